"""The deep video models, one registry entry each (``benchmark.methods.MethodSpec``)."""
from __future__ import annotations

from benchmark.methods import MethodSpec
from deep.video import c3d, fusion, gru_rcn, lrcn, two_stream

_SHARED = ("deep/train.py", "deep/flops.py")


def _fusion(variant: str, description: str) -> MethodSpec:
    return MethodSpec(
        name=variant, build=lambda ctx: fusion.build(variant, ctx), family="deep", modality="rgb",
        description=description, code_files=("deep/video/fusion.py", *_SHARED),
    )


VIDEO_MODELS: dict[str, MethodSpec] = {
    "single-frame": _fusion("single-frame", "Karpathy 2014 single-frame convnet (no motion)"),
    "early-fusion": _fusion("early-fusion", "Karpathy 2014 early fusion: conv1 spans 10 frames"),
    "late-fusion": _fusion("late-fusion", "Karpathy 2014 late fusion: two towers 15 frames apart merged at FC"),
    "slow-fusion": _fusion("slow-fusion", "Karpathy 2014 slow fusion: temporal extent grows through conv1-3"),
    "c3d": MethodSpec(
        name="c3d", build=c3d.build, family="deep", modality="rgb",
        description="C3D (Tran 2015): 3x3x3 convolutions on 16-frame clips",
        code_files=("deep/video/c3d.py", *_SHARED),
    ),
    "two-stream": MethodSpec(
        name="two-stream", build=two_stream.build, family="deep", modality="rgb+flow",
        description="Two-stream (Simonyan 2014): spatial RGB net + temporal net on 10 stacked flow fields",
        code_files=("deep/video/two_stream.py", "baselines/video/dt/optical_flow.py", *_SHARED),
        variants=two_stream.VARIANTS,
    ),
    "lrcn": MethodSpec(
        name="lrcn", build=lrcn.build, family="deep", modality="rgb",
        description="LRCN (Donahue 2015): per-frame CNN into an LSTM, predictions averaged over time",
        code_files=("deep/video/lrcn.py", *_SHARED),
    ),
    "gru-rcn": MethodSpec(
        name="gru-rcn", build=gru_rcn.build, family="deep", modality="rgb",
        description="GRU-RCN (Ballas 2016): conv GRUs on 5 CNN levels, one classifier each, averaged",
        code_files=("deep/video/gru_rcn.py", *_SHARED),
    ),
}
