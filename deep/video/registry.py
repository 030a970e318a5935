"""The deep video models, one registry entry each (``benchmark.methods.MethodSpec``)."""
from __future__ import annotations

from importlib import import_module

from benchmark.methods import MethodContext, MethodSpec

_SHARED = ("deep/train.py", "deep/flops.py")
# the two-stream result rows (``deep.video.two_stream.VARIANTS``; a test checks they agree): written out here so
# that listing the methods does not import torch
_TWO_STREAM_ROWS = ("spatial", "temporal", "fusion-avg", "fusion-svm")


def _build_from(module: str):
    """``module.build``, imported when a job builds the model, not when the registry is read."""
    def build(ctx: MethodContext):
        return import_module(module).build(ctx)
    return build


def _fusion(variant: str, description: str) -> MethodSpec:
    def build(ctx: MethodContext):
        return import_module("deep.video.fusion").build(variant, ctx)

    return MethodSpec(
        name=variant, build=build, family="deep", modality="rgb",
        description=description, code_files=("deep/video/fusion.py", *_SHARED),
    )


def _pooling(variant: str, description: str) -> MethodSpec:
    def build(ctx: MethodContext):
        return import_module("deep.video.pooling").build(variant, ctx)

    return MethodSpec(
        name=variant, build=build, family="deep", modality="rgb", description=description,
        code_files=("deep/video/pooling.py", "deep/video/lrcn.py", *_SHARED),   # lrcn.py: its frame CNN
    )


VIDEO_MODELS: dict[str, MethodSpec] = {
    "single-frame": _fusion("single-frame", "Karpathy 2014 single-frame convnet (no motion)"),
    "early-fusion": _fusion("early-fusion", "Karpathy 2014 early fusion: conv1 spans 10 frames"),
    "late-fusion": _fusion("late-fusion", "Karpathy 2014 late fusion: two towers 15 frames apart merged at FC"),
    "slow-fusion": _fusion("slow-fusion", "Karpathy 2014 slow fusion: temporal extent grows through conv1-3"),
    "c3d": MethodSpec(
        name="c3d", build=_build_from("deep.video.c3d"), family="deep", modality="rgb",
        description="C3D (Tran 2015): 3x3x3 convolutions on 16-frame clips",
        code_files=("deep/video/c3d.py", *_SHARED),
    ),
    "two-stream": MethodSpec(
        name="two-stream", build=_build_from("deep.video.two_stream"), family="deep", modality="rgb+flow",
        description="Two-stream (Simonyan 2014): spatial RGB net + temporal net on 10 stacked flow fields",
        code_files=("deep/video/two_stream.py", "baselines/video/dt/optical_flow.py", *_SHARED),
        variants=_TWO_STREAM_ROWS,
    ),
    "lrcn": MethodSpec(
        name="lrcn", build=_build_from("deep.video.lrcn"), family="deep", modality="rgb",
        description="LRCN (Donahue 2015): per-frame CNN into an LSTM, predictions averaged over time",
        code_files=("deep/video/lrcn.py", *_SHARED),
    ),
    "gru-rcn": MethodSpec(
        name="gru-rcn", build=_build_from("deep.video.gru_rcn"), family="deep", modality="rgb",
        description="GRU-RCN (Ballas 2016): conv GRUs on 5 CNN levels, one classifier each, averaged",
        code_files=("deep/video/gru_rcn.py", *_SHARED),
    ),
    # Ng et al. 2015 feature pooling (deep.video.pooling; its LSTM variant is the lrcn row above)
    "conv-pooling": _pooling("conv-pooling", "Ng 2015 conv pooling: max over frames of the conv maps, then FC"),
    "late-pooling": _pooling("late-pooling", "Ng 2015 late pooling: each frame through FC layers, then max"),
    "slow-pooling": _pooling("slow-pooling", "Ng 2015 slow pooling: max over local windows, FC, max over windows"),
}
