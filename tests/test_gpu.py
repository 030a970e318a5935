"""GPU-only tests (marker ``gpu``: not run by default; ``python -m benchmark.gpu_check`` runs them)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.methods import MethodContext
from deep.video import c3d
from test_deep_models import write_videos


@pytest.mark.gpu
def test_c3d_trains_and_predicts_on_cuda(tmp_path):
    assert torch.cuda.is_available(), "gpu-marked tests need CUDA"
    videos = write_videos(tmp_path)
    ctx = MethodContext(profile="smoke", seed=0, device="cuda", n_classes=videos.n_classes, workers=1,
                        artefact_dir=str(tmp_path / "artefacts"))
    torch.cuda.reset_peak_memory_stats()
    method = c3d.build(ctx).fit(videos)
    assert next(method.model_.parameters()).is_cuda
    assert np.isfinite(method.train_result_.losses).all() and torch.cuda.max_memory_allocated() > 0
    scores = method.predict_scores(videos)
    assert all(np.allclose(s.video.sum(axis=1), 1.0) for s in scores.values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given on machines without CUDA")
def test_gpu_check_fails_clearly_without_cuda(capsys):
    from benchmark.tools.gpu_check import main

    assert main(["--skip-tests"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA device" in err[0]
