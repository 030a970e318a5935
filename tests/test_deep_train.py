"""The training loop: a NaN loss fails clearly; a killed run resumes to the uninterrupted result."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from deep.train import ClipSource, TrainConfig, TrainingDiverged, checkpoint_path, init_weights, train_model
from deep.video import fusion
from test_deep_models import write_videos  # tests/ is on sys.path (pytest rootdir-less test modules)

ARCH = fusion.PROFILES["smoke"]
SPEC = fusion.clip_spec("early-fusion", ARCH)
CONFIG = TrainConfig(steps=6, batch_size=4, lr=1e-2, checkpoint_every=2)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> ClipSource:
    return ClipSource(write_videos(tmp_path_factory.mktemp("train-videos")), SPEC, colour_augment=True)


def fresh_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return init_weights(fusion.make_net("early-fusion", ARCH, 3))


def test_nan_loss_fails_with_the_reason(source):
    model = fresh_model()
    with torch.no_grad():
        model.classifier[-1].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 1 of 6"):
        train_model(model, source, CONFIG, seed=0)


class Killed(Exception):
    pass


def test_checkpoint_resume_equals_uninterrupted_run(source, tmp_path):
    reference = fresh_model()
    expected = train_model(reference, source, CONFIG, seed=0)

    def kill_after_step_4(step: int, loss: float) -> None:
        if step == 4:                       # 5 steps done, last checkpoint after step 4
            raise Killed

    with pytest.raises(Killed):
        train_model(fresh_model(), source, CONFIG, seed=0, checkpoint_dir=tmp_path, on_step=kill_after_step_4)
    ckpt = checkpoint_path(tmp_path, fresh_model(), source, CONFIG, seed=0)
    assert ckpt.exists()

    resumed_model = fresh_model()
    resumed = train_model(resumed_model, source, CONFIG, seed=0, checkpoint_dir=tmp_path)
    assert resumed.resumed_from_step == 4
    assert resumed.losses == expected.losses
    for (name, a), b in zip(reference.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), name
    assert not ckpt.exists()                # removed once training completed


def test_different_seed_changes_training(source):
    a = train_model(fresh_model(), source, CONFIG, seed=0)
    b = train_model(fresh_model(), source, CONFIG, seed=1)
    assert a.losses != b.losses
    assert np.isfinite(a.losses).all()
