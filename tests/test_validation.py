"""The validation carve: held-out training actors, never a test video; rows say what they were evaluated on."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.data.datasets import DatasetSplit
from benchmark.data.video import VideoSet
from benchmark.pipeline.validation import carve, chosen_on, validation_groups


def _videos(groups, prefix):
    groups = np.asarray(groups)
    return VideoSet(paths=tuple(Path(f"{prefix}{i}.avi") for i in range(len(groups))), labels=np.arange(len(groups)) % 2,
                    groups=groups, class_names=("a", "b"))


def test_carve_holds_out_every_third_training_actor_and_never_a_test_video():
    data = DatasetSplit("toy", Path("."), 1, _videos(np.repeat([3, 4, 5, 6, 7, 8, 9, 10], 4), "tr"),
                        _videos(np.repeat([1, 2], 4), "te"))
    tuned = carve(data)
    assert set(validation_groups(data.train.groups)) == {3, 6, 9}
    assert set(tuned.test.groups) == {3, 6, 9} and set(tuned.train.groups) == {4, 5, 7, 8, 10}
    assert not set(tuned.test.names) & set(data.test.names)
    assert set(tuned.train.names) | set(tuned.test.names) == set(data.train.names)
    assert carve(data).test.names == tuned.test.names            # deterministic


def test_too_few_actors_is_an_error_and_legacy_settings_are_marked():
    with pytest.raises(ValueError, match="training groups"):
        validation_groups([1, 1, 2])
    assert chosen_on("c3d", "quick") == "validation"
    assert chosen_on("dt-fv-svm", "quick") == "validation"
    assert chosen_on("lrcn", "quick") == "validation"
    assert chosen_on("c3d", "smoke") == "validation"
    assert chosen_on("feature-histograms", "smoke") == "validation"           # re-chosen on validation actors
    assert chosen_on("c3d", "paper") == "the papers' published settings"


def test_every_method_named_in_chosen_on_is_a_registered_video_method():
    """A misspelt name would silently leave that method's rows marked legacy."""
    from benchmark.registry import video_methods
    from benchmark.pipeline.validation import CHOSEN_ON

    assert set(CHOSEN_ON) <= set(video_methods())
    assert all(set(profiles) <= {"smoke", "ci", "quick"} for profiles in CHOSEN_ON.values())


def test_no_setting_is_marked_as_chosen_on_the_test_split():
    """Every method of both suites says where its smoke and quick settings come from, and none says the test split."""
    from benchmark.pipeline.validation import GENERATIVE_CHOSEN_ON, chosen_on
    from benchmark.registry import methods_of

    assert set(GENERATIVE_CHOSEN_ON) == set(methods_of("generative"))
    for suite in ("video", "generative"):
        for method in methods_of(suite):
            for profile in ("smoke", "ci", "quick", "quick-large"):
                assert "test split" not in chosen_on(method, profile), (method, profile)


def test_a_validation_run_is_marked_in_the_store_and_kept_out_of_reports(tmp_path):
    from benchmark.cli import main
    from benchmark.pipeline.store import Store

    out = tmp_path / "tune"
    assert main(["run", "--suite", "video", "--profile", "smoke", "--methods", "feature-histograms",
                 "--validation", "--workers", "1", "--out", str(out)]) == 0
    store = Store(out, readonly=True)
    try:
        rows = store.results()
    finally:
        store.close()
    assert set(rows["evaluated_on"]) == {"validation"}
    assert set(rows["settings_chosen_on"]) == {"validation"}
    # smoke: 8 training actors per split, of which 3 (every third) are held out: 30 validation, 50 train videos
    assert rows["n_test"].iloc[0] == 30 and rows["n_train"].iloc[0] == 50
    assert main(["report", "--out", str(out), "--to", str(tmp_path / "reports")]) == 2   # nothing to report
