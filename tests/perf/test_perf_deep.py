"""Speed of the deep video models on CPU (quick profile sizes): pytest-benchmark, run with ``-m perf``.

Per network: forward+backward clips/s and achieved GFLOP/s, compared with a float32 matmul timed in the
same run (goal: >= 50% of it for the conv nets), and the share of the training loop spent waiting for
a batch (goal: <= 10%). The figures go to ``benchmark.extra_info``; goals are reported, not asserted,
because the machine is shared and the numbers are noisy.
"""
from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from benchmark.methods import MethodContext
from deep.flops import train_step_flops
from deep.train import ClipSource, clip_loss, init_weights, train_model
from deep.video.registry import VIDEO_MODELS

pytestmark = pytest.mark.perf


def _networks():
    ctx = MethodContext(profile="quick", seed=0, device="cpu", n_classes=10)
    for name, spec in VIDEO_MODELS.items():
        method = spec.build(ctx)
        for net in (method.streams.values() if hasattr(method, "streams") else [method]):
            yield f"{name}{'/' + net.variant if net.variant else ''}", net


NETWORKS = dict(_networks())


def matmul_gflops() -> float:
    """float32 GFLOP/s of a 1024^3 matmul with torch's current thread count (best of 5)."""
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


@pytest.fixture(scope="module")
def quick_train():
    from benchmark.data.datasets import load_dataset

    train, _ = load_dataset("synthetic-actions", split=1, profile="quick")
    return train


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_train_step_speed(benchmark, name):
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

    reference = matmul_gflops()              # measured beside each model: the machine's load drifts
    benchmark.pedantic(step, rounds=5, warmup_rounds=1)
    reference = (reference + matmul_gflops()) / 2
    seconds = benchmark.stats.stats.min      # least disturbed by the other processes on the machine
    achieved = flops / seconds / 1e9
    benchmark.extra_info.update({
        "clips_per_s": batch / seconds, "train_step_gflop": flops / 1e9, "achieved_gflops": achieved,
        "matmul_gflops": reference, "share_of_matmul": achieved / reference,
        "threads": torch.get_num_threads(),
    })
    print(f"\n{name}: {batch / seconds:.1f} clips/s, {achieved:.2f} GFLOP/s = "
          f"{100 * achieved / reference:.0f}% of matmul ({reference:.1f} GFLOP/s)")
    assert flops > 0 and seconds > 0


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_data_wait_share(benchmark, name, quick_train):
    """Share of the training loop spent waiting for a batch (batches are prefetched in a helper thread)."""
    net = NETWORKS[name]
    source = ClipSource(quick_train, net.clip, colour_augment=net.train.colour_augment)
    config = dataclasses.replace(net.train, steps=10)
    results = []

    def run():
        torch.manual_seed(0)
        model = init_weights(net.make_model(quick_train.n_classes))
        results.append(train_model(model, source, config, seed=0))

    benchmark.pedantic(run, rounds=2, warmup_rounds=0)
    waited = sum(r.data_wait_s for r in results)
    total = sum(r.loop_s for r in results)
    share = waited / total
    benchmark.extra_info.update({"data_wait_share": share, "steps": 2 * config.steps})
    print(f"\n{name}: {100 * share:.1f}% of the training loop waits for data")
    assert 0.0 <= share < 1.0
