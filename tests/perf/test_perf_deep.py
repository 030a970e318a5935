"""Speed of the deep video models on CPU (quick profile sizes): pytest-benchmark, run with ``-m perf``.

Per network: forward+backward clips/s and achieved GFLOP/s, compared with a float32 matmul timed in the
same run (goal: >= 50% of it for the conv nets), and the share of a training step spent building the
batch (goal: <= 10%). The figures go to ``benchmark.extra_info``; goals are reported, not asserted,
because the machine is shared and the numbers are noisy.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from benchmark.methods import MethodContext
from deep.flops import train_step_flops
from deep.train import ClipSource, clip_loss, init_weights, train_batch
from deep.video.registry import VIDEO_MODELS

pytestmark = pytest.mark.perf


def _networks():
    ctx = MethodContext(profile="quick", seed=0, device="cpu", n_classes=10)
    for name, spec in VIDEO_MODELS.items():
        method = spec.build(ctx)
        for net in (method.streams.values() if hasattr(method, "streams") else [method]):
            yield f"{name}{'/' + net.variant if net.variant else ''}", net


NETWORKS = dict(_networks())


@pytest.fixture(scope="module")
def matmul_gflops() -> float:
    """float32 GFLOP/s of a 1024^3 matmul on this machine, with torch's current thread count."""
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    reps, start = 10, time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - start) / 1e9


@pytest.fixture(scope="module")
def quick_train():
    from benchmark.data.datasets import load_dataset

    train, _ = load_dataset("synthetic-actions", split=1, profile="quick")
    return train


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_train_step_speed(benchmark, name, matmul_gflops):
    net = NETWORKS[name]
    torch.manual_seed(0)
    model = init_weights(net.make_model(10)).train()
    clip, batch = net.clip, net.train.batch_size
    x = torch.randn(batch, clip.channels, clip.frames, clip.size, clip.size)
    y = torch.randint(0, 10, (batch,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    flops = train_step_flops(model, x, lambda logits: clip_loss(logits, y))

    def step():
        loss = clip_loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    benchmark.pedantic(step, rounds=5, warmup_rounds=1)
    seconds = benchmark.stats.stats.mean
    achieved = flops / seconds / 1e9
    benchmark.extra_info.update({
        "clips_per_s": batch / seconds, "train_step_gflop": flops / 1e9, "achieved_gflops": achieved,
        "matmul_gflops": matmul_gflops, "share_of_matmul": achieved / matmul_gflops,
        "threads": torch.get_num_threads(),
    })
    print(f"\n{name}: {batch / seconds:.1f} clips/s, {achieved:.2f} GFLOP/s = "
          f"{100 * achieved / matmul_gflops:.0f}% of matmul ({matmul_gflops:.1f} GFLOP/s)")
    assert flops > 0 and seconds > 0


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_data_wait_share(benchmark, name, quick_train):
    """Share of a training step spent building its batch (the loop is synchronous: no prefetch)."""
    net = NETWORKS[name]
    source = ClipSource(quick_train, net.clip, colour_augment=net.train.colour_augment)
    torch.manual_seed(0)
    model = init_weights(net.make_model(quick_train.n_classes)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    data_s, compute_s = [], []

    def step():
        start = time.perf_counter()
        clips, labels = train_batch(source, net.train.batch_size, len(data_s), seed=0)
        x, y = torch.from_numpy(clips), torch.from_numpy(labels)
        middle = time.perf_counter()
        loss = clip_loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        data_s.append(middle - start)
        compute_s.append(time.perf_counter() - middle)

    benchmark.pedantic(step, rounds=5, warmup_rounds=1)
    share = float(np.sum(data_s) / (np.sum(data_s) + np.sum(compute_s)))
    benchmark.extra_info.update({"data_wait_share": share, "data_ms": 1000 * float(np.mean(data_s))})
    print(f"\n{name}: {100 * share:.1f}% of a training step builds the batch")
    assert 0.0 < share < 1.0
