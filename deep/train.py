"""The one training and evaluation loop every deep video model uses.

* Clips: a network sees a clip of ``ClipSpec.frames`` frames (RGB) or flow fields (x/y), ``step``
  frames apart, as a float tensor (C, T, H, W). Training samples one random clip per video (random
  start, random crop, random colour transform on RGB); testing takes ``test_clips`` uniformly spaced
  clips per video (centre crop) and returns one softmax per clip. No horizontal flips: a mirrored
  clip turns "slide left" into "slide right" and "clockwise" into "counter-clockwise".
* Batches are built ahead of the step that uses them: by ``loader_workers`` loader processes
  (``TrainConfig.loader_workers``; by default as many as the job's cores allow beside the training
  process, see ``default_loader_workers``), or with none by a helper thread one step ahead.
  ``TrainResult.data_wait_s`` says how long the loop still waited for a batch.
* Reproducible on CPU: the batch, clip starts, crops and dropout of step ``s`` come from generators
  seeded by (seed, s) and the learning rate is a function of ``s``; a checkpoint (model + optimiser +
  step) therefore resumes to exactly the run that was not interrupted.
* On CUDA: mixed precision (bfloat16 where supported, else float16 with loss scaling) and
  channels-last weights for the convolutions.
* A non-finite loss raises ``TrainingDiverged`` with the step and learning rate, which fails the job.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.data

from benchmark.common.cache import atomic_write, stable_hash
from benchmark.data.video import VideoSet
from benchmark.methods import MethodContext, Scores
from benchmark.common.progress import progress

RGB_MEAN, RGB_STD = 0.45, 0.225


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the job fails with this message."""


@dataclass(frozen=True)
class ClipSpec:
    """What one network input is: ``frames`` images (or flow fields) ``step`` frames apart, cropped square."""

    frames: int                       # time steps per clip (flow: L flow fields -> 2L channels)
    size: int                         # side of the square crop
    step: int = 1                     # frame step inside the clip (late fusion: 15)
    short_side: int | None = None     # resize frames so the short side is this before cropping (None: as decoded)
    modality: Literal["rgb", "flow"] = "rgb"
    flow_algorithm: str = "farneback"

    @property
    def channels(self) -> int:
        return 3 if self.modality == "rgb" else 2

    @property
    def span(self) -> int:
        """Frames of the video one clip covers."""
        return (self.frames - 1) * self.step + 1


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation for one network. The paper profiles take the papers' batch sizes and base learning
    rates but this loop's cosine schedule, not their step schedules."""

    steps: int                        # optimiser steps (one random clip per video in a batch)
    batch_size: int
    lr: float
    optimizer: Literal["sgd", "adam"] = "adam"
    momentum: float = 0.9             # SGD only
    weight_decay: float = 0.0
    warmup_steps: int = 0             # linear warm-up, then cosine decay to zero
    grad_clip: float | None = None    # max global gradient norm (recurrent models)
    test_clips: int = 5               # uniformly spaced clips per test video
    eval_batch: int = 64
    checkpoint_every: int = 50
    colour_augment: bool = True       # random channel permutation / grey + gains on RGB clips
    preload: bool = True              # keep every video's frames in memory (small profiles)
    loader_workers: int | None = None  # loader processes (None: default_loader_workers; 0: a helper thread)
    ema_decay: float | None = None    # evaluate an exponential moving average of the weights (and BN statistics)


# ----------------------------------------------------------------------------- clips


def random_colour_matrix(rng: np.random.Generator) -> np.ndarray:
    """Colour augmentation: grey with probability 1/4, else a random channel permutation; random gains.

    Actors differ in colour and a split holds out whole actors, so a network trained on a few actors
    must not rely on hue.
    """
    if rng.random() < 0.25:
        return np.full((3, 3), 1.0 / 3.0) * rng.uniform(0.8, 1.2)
    return np.eye(3)[rng.permutation(3)] * rng.uniform(0.7, 1.3, size=(3, 1))


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W, 2) flow resized to size=(width, height), its values rescaled with it: a displacement of
    d pixels becomes d * new_width / W (x) and d * new_height / H (y) pixels."""
    h, w = flow.shape[1:3]
    gain = np.array([size[0] / w, size[1] / h], np.float32)
    interp = cv2.INTER_AREA if size[0] * size[1] < w * h else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f.astype(np.float32), size, interpolation=interp) * gain for f in flow])


class ClipSource:
    """Clips of one VideoSet for one ClipSpec; frames / flow come from the VideoSet's cache.

    preload: every video is held in memory (small profiles). Otherwise a training clip reads only the
    frames it uses (``VideoSet.frame_rows`` / ``flow_rows``: in the paper profile's compact
    caches, the chunks holding them), resized to the clip's size as a preloaded video would be: the same
    seed gives the same clips either way. A test video is read whole, once, for its test clips.
    """

    def __init__(self, videos: VideoSet, spec: ClipSpec, *, preload: bool = True, colour_augment: bool = False):
        self.videos, self.spec, self.colour_augment = videos, spec, colour_augment
        self._store: dict[int, np.ndarray] = {}
        self._shapes: dict[int, tuple[int, int, int]] = {}
        self._preload = preload
        if preload:
            for i in range(len(videos)):
                self._store[i] = self._load(i)
        # videos with nothing to cut a clip from (a one-frame video has no optical flow): never trained on,
        # scored uniformly and reported per video
        self.unscorable: dict[int, str] = {}
        for i in range(len(videos)):
            if self.shape(i)[0] == 0:
                self.unscorable[i] = f"too few frames for {spec.modality} clips"
        self.usable = np.array([i for i in range(len(videos)) if i not in self.unscorable], dtype=int)

    def __len__(self) -> int:
        return len(self.videos)

    def _target_size(self, h: int, w: int) -> tuple[int, int] | None:
        """(width, height) the frames are resized to before cropping, or None when they are used as decoded."""
        if self.spec.short_side is None or min(h, w) == self.spec.short_side:
            return None
        scale = self.spec.short_side / min(h, w)
        return max(self.spec.size, round(w * scale)), max(self.spec.size, round(h * scale))

    def shape(self, i: int) -> tuple[int, int, int]:
        """(T, H, W) of video i as the clips see it (after resizing), without loading it when not preloaded."""
        if i in self._store:
            return self._store[i].shape[:3]
        if i not in self._shapes:
            t, h, w = (self.videos.frames_shape(i) if self.spec.modality == "rgb"
                       else self.videos.flow_shape(i, self.spec.flow_algorithm))[:3]
            size = self._target_size(h, w) if t else None
            if size is not None:
                w, h = size
            if t and min(h, w) < self.spec.size:
                raise ValueError(f"{self.videos.paths[i].name}: frames {h}x{w} are smaller than the crop {self.spec.size}")
            self._shapes[i] = (t, h, w)
        return self._shapes[i]

    def _resized(self, video: np.ndarray) -> np.ndarray:
        """Frames (or flow) at the clip's size; flow comes back quantised to uint8."""
        from baselines.video.dt.optical_flow import quantise

        size = self._target_size(*video.shape[1:3]) if len(video) else None
        if self.spec.modality == "flow":
            if size is not None:
                video = resize_flow(video, size)
            return quantise(video)  # the ±20 px bound applies at the resolution the network sees
        if size is not None:
            video = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in video])
        return video

    def _load(self, i: int) -> np.ndarray:
        """(T, H, W, C) uint8: RGB frames, or flow quantised to ±20 px as the two-stream tools store it."""
        video = self.videos.frames(i) if self.spec.modality == "rgb" else self.videos.flow(i, self.spec.flow_algorithm)
        video = self._resized(video)
        h, w = video.shape[1:3]
        if len(video) and min(h, w) < self.spec.size:
            raise ValueError(f"{self.videos.paths[i].name}: frames {h}x{w} are smaller than the crop {self.spec.size}")
        return video

    def _rows(self, i: int, rows: np.ndarray) -> np.ndarray:
        """``self._load(i)[rows]`` reading only those rows of the cached video."""
        if i in self._store:
            return self._store[i][rows]
        if self.spec.modality == "rgb":
            return self._resized(self.videos.frame_rows(i, rows))
        return self._resized(self.videos.flow_rows(i, rows, self.spec.flow_algorithm))

    def video(self, i: int) -> np.ndarray:
        return self._store[i] if self._preload else self._load(i)

    def n_positions(self, i: int) -> int:
        return self.shape(i)[0]

    def _indices(self, start: int, length: int) -> np.ndarray:
        """Frames of the clip starting at ``start``; indices past the end of a short video repeat its last frame."""
        return np.minimum(start + self.spec.step * np.arange(self.spec.frames), length - 1)

    def clip(self, video: np.ndarray, start: int, top: int, left: int, colour: np.ndarray | None = None) -> np.ndarray:
        """(C, T, size, size) float32 of the clip of ``video`` at ``start``, cropped at (top, left).

        colour: an optional 3x3 matrix applied to every RGB pixel (colour augmentation).
        """
        idx = self._indices(start, len(video))
        return self._normalised(video[idx, top:top + self.spec.size, left:left + self.spec.size], colour)

    def _normalised(self, x: np.ndarray, colour: np.ndarray | None) -> np.ndarray:
        from baselines.video.dt.optical_flow import dequantise

        if self.spec.modality == "rgb":
            x = x.astype(np.float32) / 255.0
            if colour is not None:
                x = np.clip(x @ colour.T.astype(np.float32), 0.0, 1.0)
            x = (x - RGB_MEAN) / RGB_STD
        else:
            # Mean flow subtraction (Simonyan & Zisserman 2014): removes a global (camera) translation.
            x = dequantise(x)
            x = x - x.mean(axis=(1, 2), keepdims=True)
        return np.ascontiguousarray(x.transpose(3, 0, 1, 2))

    def train_clip(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """A random clip: random start and crop, and (RGB, if enabled) a random colour transform."""
        t, h, w = self.shape(i)
        start = int(rng.integers(0, max(1, t - self.spec.span + 1)))
        top = int(rng.integers(0, h - self.spec.size + 1))
        left = int(rng.integers(0, w - self.spec.size + 1))
        colour = random_colour_matrix(rng) if self.colour_augment and self.spec.modality == "rgb" else None
        idx = self._indices(start, t)
        wanted, inverse = np.unique(idx, return_inverse=True)
        x = self._rows(i, wanted)[inverse]
        return self._normalised(x[:, top:top + self.spec.size, left:left + self.spec.size], colour)

    def test_clips(self, i: int, n: int) -> np.ndarray:
        """(n, C, T, size, size): n uniformly spaced clips, centre crop."""
        video = self.video(i)
        t, h, w = video.shape[:3]
        starts = np.linspace(0, max(0, t - self.spec.span), n).round().astype(int)
        top, left = (h - self.spec.size) // 2, (w - self.spec.size) // 2
        return np.stack([self.clip(video, s, top, left) for s in starts])


@functools.lru_cache(maxsize=8)
def _epoch_order(n_videos: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n_videos)


def batch_indices(n_videos: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """Videos of batch ``step``: consecutive slices of per-epoch permutations, a function of (seed, step)."""
    positions = range(step * batch_size, (step + 1) * batch_size)
    return np.asarray([_epoch_order(n_videos, seed, p // n_videos)[p % n_videos] for p in positions])


def train_batch(source: ClipSource, batch_size: int, step: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    usable = getattr(source, "usable", None)
    if usable is None or len(usable) == len(source):
        idx = batch_indices(len(source), batch_size, step, seed)
    elif len(usable) == 0:
        raise ValueError(f"no training video is long enough for {source.spec.modality} clips")
    else:
        idx = usable[batch_indices(len(usable), batch_size, step, seed)]
    rng = np.random.default_rng([seed, step, 1])
    clips = np.stack([source.train_clip(int(i), rng) for i in idx])
    return clips, source.videos.labels[idx].astype(np.int64)


# ----------------------------------------------------------------------------- device helpers


def init_weights(model: nn.Module) -> nn.Module:
    """He initialisation (fan-out, ReLU) of convolutions and linear layers, zero biases.

    torch's default initialisation shrinks activations layer by layer; the unnormalised paper
    topologies (no batch norm) then start with vanishing signals and barely train from scratch.
    Recurrent layers keep torch's default.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out" if not isinstance(module, nn.Linear) else "fan_in",
                                    nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def prepare_for_device(model: nn.Module, device: str) -> nn.Module:
    model = model.to(device)
    if device.startswith("cuda"):
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.to(memory_format=torch.channels_last)
            elif isinstance(module, nn.Conv3d):
                module.to(memory_format=torch.channels_last_3d)
    return model


def autocast(device: str):
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast("cpu", enabled=False)


def clip_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy; (B, S, K) logits (S predictions per clip: time steps, levels) average S losses."""
    if logits.dim() == 3:
        return F.cross_entropy(logits.flatten(0, 1), labels.repeat_interleave(logits.shape[1]))
    return F.cross_entropy(logits, labels)


def clip_probs(logits: torch.Tensor) -> torch.Tensor:
    """Softmax per clip; for (B, S, K) logits the S softmaxes are averaged (LRCN over time, GRU-RCN over levels)."""
    return torch.softmax(logits, dim=-1).mean(dim=1) if logits.dim() == 3 else torch.softmax(logits, dim=1)


def learning_rate(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def weight_average(model: nn.Module, cfg: TrainConfig) -> torch.optim.swa_utils.AveragedModel | None:
    """The running exponential average of ``model``'s weights and buffers (BN statistics), or None.

    The average of step s is a function of the weights of steps <= s, so it is checkpointed with them and a
    resumed run ends with the same average as an uninterrupted one."""
    if cfg.ema_decay is None:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)


# ----------------------------------------------------------------------------- checkpoints


def _atomic_torch_save(obj, path: Path) -> None:
    atomic_write(path, lambda handle: torch.save(obj, handle))


def checkpoint_path(directory: Path, model: nn.Module, source: ClipSource, cfg: TrainConfig, seed: int) -> Path:
    """One file per (model code and shape, clip spec, config, seed, training videos)."""
    code = inspect.getsource(sys.modules[type(model).__module__]) + inspect.getsource(sys.modules[__name__])
    key = {
        "code": hashlib.sha256(code.encode()).hexdigest(),
        "model": repr(model),
        "clip": asdict(source.spec),
        "train": {k: v for k, v in asdict(cfg).items() if k != "loader_workers"},  # changes no result
        "seed": seed,
        "videos": [str(p) for p in source.videos.paths],
        "labels": source.videos.labels.tolist(),
    }
    return Path(directory) / f"{type(model).__name__}-{stable_hash(key)}.pt"


def checkpoint_dir_for(videos: VideoSet) -> Path:
    """Checkpoints live in the artefact cache beside the frames and flow: a re-run of a killed job (in
    any run directory) finds its checkpoint by content key."""
    return Path(videos.cache.root) / "checkpoints"


# ----------------------------------------------------------------------------- the loop


class _Batches(torch.utils.data.Dataset):
    """Item j is the batch of step ``first + j``: a pure function of (seed, step), whichever process builds it."""

    def __init__(self, source: ClipSource, batch_size: int, seed: int, first: int, steps: int):
        self.source, self.batch_size, self.seed, self.first, self.steps = source, batch_size, seed, first, steps

    def __len__(self) -> int:
        return self.steps - self.first

    def __getitem__(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        return train_batch(self.source, self.batch_size, self.first + j, self.seed)


def _loader_worker_init(driver_pid: int, _worker_id: int) -> None:
    """A loader process: one thread per library, and it exits when the training process is gone (kill -9)."""
    from benchmark.common.processes import die_with_driver
    from benchmark.common.threads import pin_threads

    die_with_driver(driver_pid)   # first: a loader that hangs in pin_threads must still die with its driver
    pin_threads(1)


def default_loader_workers(workers: int, device: str) -> int:
    """Loader processes for a job allowed ``workers`` cores, so that they and training do not oversubscribe.

    On CUDA the training process needs about one core, the rest load. On CPU, training already uses
    ``torch.get_num_threads()`` cores, so only cores beyond those load (none in a job, whose torch threads
    are its ``workers``); the helper thread overlaps loading with compute instead. At most 8: each
    process holds up to one batch in flight (a two-stream flow batch is about 1 GB).
    """
    cores = min(workers, os.cpu_count() or 1)
    busy = 1 if device.startswith("cuda") else torch.get_num_threads()
    return max(0, min(8, cores - busy))


def _batches(source: ClipSource, cfg: TrainConfig, start: int, seed: int, workers: int, device: str):
    """An iterator over the (clips, labels) of steps start..cfg.steps-1 in order, built ahead of use.

    ``close()`` stops the loader processes, if any, also when training stops early (an error, a kill).
    """
    if start >= cfg.steps:
        return iter(())
    if workers == 0:
        return _prefetched(source, cfg, start, seed)
    # forkserver, not fork: a fork of a process whose OpenMP / OpenCV thread pools have run hangs in the child
    # (seen: every batch of a paper-profile C3D training waited forever); spawn where there is no forkserver
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["numpy", "cv2", "torch", "deep.train"])   # loaders start in a blink
    else:
        context = multiprocessing.get_context("spawn")
    loader = torch.utils.data.DataLoader(
        _Batches(source, cfg.batch_size, seed, start, cfg.steps), batch_size=None, shuffle=False,
        num_workers=workers, prefetch_factor=1, multiprocessing_context=context,
        worker_init_fn=functools.partial(_loader_worker_init, os.getpid()),
        pin_memory=device.startswith("cuda"), timeout=600)
    return _LoaderBatches(iter(loader))


def _prefetched(source: ClipSource, cfg: TrainConfig, start: int, seed: int):
    # numpy and OpenCV release the GIL, so a helper thread builds the next batch while a step computes
    with ThreadPoolExecutor(max_workers=1) as prefetch:
        pending = prefetch.submit(train_batch, source, cfg.batch_size, start, seed)
        for step in range(start, cfg.steps):
            batch = pending.result()
            if step + 1 < cfg.steps:
                pending = prefetch.submit(train_batch, source, cfg.batch_size, step + 1, seed)
            yield batch


class _LoaderBatches:
    """A started DataLoader iterator whose ``close()`` stops its processes at once."""

    def __init__(self, iterator) -> None:
        self._iterator = iterator

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._iterator)

    def close(self) -> None:
        self._iterator._shutdown_workers()


@dataclass
class TrainResult:
    losses: list[float]          # one per step, including steps before a resume
    resumed_from_step: int       # 0 when the run started from scratch
    clips_seen: int
    data_wait_s: float = 0.0     # time the loop waited for a batch after the first (the loader was behind)
    loop_s: float = 0.0          # wall time of the loop from the first batch's arrival
    first_batch_s: float = 0.0   # start of the input pipeline (loader processes' imports) and the first batch


def train_model(
    model: nn.Module,
    source: ClipSource,
    cfg: TrainConfig,
    *,
    seed: int,
    device: str = "cpu",
    checkpoint_dir: Path | str | None = None,
    keep_checkpoint: bool = False,
    on_step: Callable[[int, float], None] | None = None,
    loader_workers: int = 0,
) -> TrainResult:
    """Train ``model`` (already initialised and on ``device``) in place with cross-entropy on clips.

    ``loader_workers`` processes build the batches (0: a helper thread); the batches, and so the result,
    do not depend on it.

    ``on_step(step, loss)`` is called after each optimiser step (tests use it to simulate a kill).
    The checkpoint is removed once training completes unless ``keep_checkpoint``.
    """
    optimizer = make_optimizer(model, cfg)
    average = weight_average(model, cfg)
    use_scaler = device.startswith("cuda") and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    losses: list[float] = []
    start = 0
    ckpt = checkpoint_path(Path(checkpoint_dir), model, source, cfg, seed) if checkpoint_dir else None
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if average is not None:
            average.load_state_dict(state["average"])
        losses, start = list(state["losses"]), int(state["step"])

    def save(step: int) -> None:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scaler": scaler.state_dict(), "losses": losses, "step": step}
        if average is not None:
            state["average"] = average.state_dict()
        _atomic_torch_save(state, ckpt)

    model.train()
    waited = first_batch = 0.0
    loop_start = pipeline_start = time.perf_counter()
    # A batch is a pure function of (seed, step): how it is built ahead changes no result.
    batches = _batches(source, cfg, start, seed, loader_workers, device)
    try:
        for step in progress(range(start, cfg.steps), desc=f"training {type(model).__name__}", unit="step"):
            wait_start = time.perf_counter()
            clips, labels = next(batches)
            if step == start:   # the pipeline's start-up is its own figure, not a steady-state wait
                loop_start = time.perf_counter()
                first_batch = loop_start - pipeline_start   # loader processes start in _batches
            else:
                waited += time.perf_counter() - wait_start
            value = _train_step(model, optimizer, scaler, clips, labels, cfg, step, seed, device)
            losses.append(value)
            if average is not None:
                average.update_parameters(model)
            if ckpt is not None and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
                save(step + 1)
            if on_step is not None:
                on_step(step, value)
    finally:
        batches.close()
    if average is not None:   # the network evaluated from here on is the average
        model.load_state_dict(average.module.state_dict())
    if ckpt is not None and not keep_checkpoint:
        ckpt.unlink(missing_ok=True)
    return TrainResult(losses=losses, resumed_from_step=start, clips_seen=(cfg.steps - start) * cfg.batch_size,
                       data_wait_s=waited, loop_s=time.perf_counter() - loop_start, first_batch_s=first_batch)


def _train_step(model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                clips: np.ndarray, labels: np.ndarray, cfg: TrainConfig, step: int, seed: int, device: str) -> float:
    x = torch.as_tensor(clips).to(device, non_blocking=True)
    y = torch.as_tensor(labels).to(device, non_blocking=True)
    lr = learning_rate(cfg, step)
    for group in optimizer.param_groups:
        group["lr"] = lr
    torch.manual_seed(seed * 1_000_003 + step)  # dropout of this step
    with autocast(device):
        loss = clip_loss(model(x).float(), y)
    value = float(loss.detach())
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"{type(model).__name__}: training loss became {value} at step {step + 1} of {cfg.steps} "
            f"(lr {lr:.3g}, batch {cfg.batch_size}); training stopped"
        )
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if cfg.grad_clip is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return value


@torch.no_grad()
def predict_clips(model: nn.Module, source: ClipSource, n_clips: int, *, device: str = "cpu",
                  batch_size: int = 64) -> list[np.ndarray]:
    """Per video, the softmax of each of its ``n_clips`` test clips: list of (n_clips, n_classes)."""
    model.eval()
    per_batch = max(1, batch_size // n_clips)
    unscorable = getattr(source, "unscorable", {})
    scorable = [i for i in range(len(source)) if i not in unscorable]
    out: dict[int, np.ndarray] = {}
    for first in progress(range(0, len(scorable), per_batch), desc=f"evaluating {type(model).__name__}",
                          unit="batch"):
        videos = scorable[first:first + per_batch]
        x = torch.from_numpy(np.concatenate([source.test_clips(i, n_clips) for i in videos])).to(device)
        with autocast(device):
            probs = clip_probs(model(x).float()).cpu().numpy().astype(np.float64)
        out.update(zip(videos, probs.reshape(len(videos), n_clips, -1)))
    if unscorable:
        n_classes = next(iter(out.values())).shape[-1] if out else _n_outputs(model)
        for i in unscorable:
            out[i] = np.full((n_clips, n_classes), 1.0 / n_classes)
    return [out[i] for i in range(len(source))]


def _n_outputs(model: nn.Module) -> int:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    return last.out_features


def scores_from_clips(clips: list[np.ndarray], unscorable: dict[int, str] | None = None) -> Scores:
    """Video score = mean of its clips' softmax (rows still sum to 1)."""
    return Scores(video=np.stack([c.mean(axis=0) for c in clips]), clips=clips, unscorable=dict(unscorable or {}))


# ----------------------------------------------------------------------------- the video method


class ClipClassifier:
    """A video method (benchmark.methods contract) around one network trained on clips.

    ``make_model(n_classes)`` builds the network; it maps (B, C, T, H, W) clips to (B, n_classes) logits,
    or to (B, S, n_classes) when it makes S predictions per clip (see ``clip_loss`` / ``clip_probs``).
    """

    def __init__(self, *, make_model: Callable[[int], nn.Module], clip: ClipSpec, train: TrainConfig,
                 ctx: MethodContext, variant: str = ""):
        self.make_model, self.clip, self.train, self.ctx, self.variant = make_model, clip, train, ctx, variant

    def extract(self, videos: VideoSet) -> None:
        """Decode frames (and compute flow) into the shared cache; timed by the harness as extraction."""
        for i in range(len(videos)):
            if self.clip.modality == "rgb":
                videos.frames(i)
            else:
                videos.flow(i, self.clip.flow_algorithm)

    def fit(self, train: VideoSet) -> "ClipClassifier":
        torch.manual_seed(self.ctx.split_seed)   # initial weights drawn afresh per split (MethodContext.split_seed)
        self.model_ = prepare_for_device(init_weights(self.make_model(self.ctx.n_classes)), self.ctx.device)
        source = ClipSource(train, self.clip, preload=self.train.preload, colour_augment=self.train.colour_augment)
        loaders = self.train.loader_workers
        if loaders is None:   # preloaded clips cost next to nothing to cut: no loader processes
            loaders = 0 if self.train.preload else default_loader_workers(self.ctx.workers, self.ctx.device)
        self.train_result_ = train_model(self.model_, source, self.train, seed=self.ctx.split_seed,
                                         device=self.ctx.device, checkpoint_dir=checkpoint_dir_for(train),
                                         loader_workers=loaders)
        self.n_train_clips_ = self.train_result_.clips_seen
        return self

    def predict_clips(self, test: VideoSet) -> list[np.ndarray]:
        source = ClipSource(test, self.clip, preload=self.train.preload)
        clips = predict_clips(self.model_, source, self.train.test_clips, device=self.ctx.device,
                              batch_size=self.train.eval_batch)
        self.n_test_clips_ = len(test) * self.train.test_clips
        self.unscorable_ = dict(source.unscorable)
        return clips

    def predict_scores(self, test: VideoSet) -> dict[str, Scores]:
        clips = self.predict_clips(test)
        return {self.variant: scores_from_clips(clips, self.unscorable_)}

    def costs(self) -> dict:
        from deep.flops import model_costs

        return model_costs(self.make_model, self.ctx.n_classes, self.clip, views=self.train.test_clips)
