"""Protocol guards: a split leaking groups is refused before any work, overlap only on request and
marked in tables, datasets without group ids warned about, a model scored only on its own split,
decoding provenance recorded and compared."""
from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.pipeline import decoding, protocol
from benchmark.pipeline.outcome import JobOutcome, RowResult
from benchmark.pipeline.store import Store


def bench(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _write_avi(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    rng = np.random.default_rng(seed)
    for _ in range(8):
        writer.write(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    writer.release()


def _dataset(root: Path, train_groups, test_groups, named_groups: bool = True) -> Path:
    """A UCF101-layout folder: classes Walk and Run, one clip per (class, group)."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 Walk\n2 Run\n")

    def name(cls: str, group: int) -> str:
        return f"{cls}/v_{cls}_g{group:02d}_c01.avi" if named_groups else f"{cls}/person{group:02d}_{cls}.avi"

    train = [(name(c, g), i + 1) for g in train_groups for i, c in enumerate(("Walk", "Run"))]
    test = [name(c, g) for g in test_groups for c in ("Walk", "Run")]
    (lists / "trainlist01.txt").write_text("".join(f"{v} {label}\n" for v, label in train))
    (lists / "testlist01.txt").write_text("".join(f"{v}\n" for v in test))
    for k, relpath in enumerate([v for v, _ in train] + test):
        _write_avi(root / relpath, k)
    return root


def _run(root: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return bench("run", "--dataset", str(root), "--methods", "feature-histograms", "--profile", "smoke",
                 "--out", str(out), "--device", "cpu", "--workers", "1", *extra)


def test_leaking_split_is_refused_before_any_work(tmp_path):
    root = _dataset(tmp_path / "leaky", train_groups=(1, 2), test_groups=(2, 3))
    code, _, err = _run(root, tmp_path / "out")
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]
    assert code == 2 and len(lines) == 1, err   # (the same files in both lists also draw a warning line)
    assert "split 1" in lines[0] and "g02" in lines[0] and "g03" not in lines[0]
    assert "Walk/v_Walk_g02_c01.avi" in lines[0] and "--allow-group-overlap" in lines[0]
    assert not (tmp_path / "out" / "results.sqlite").exists()   # nothing ran, no store was opened


def test_disjoint_split_runs_and_is_marked_disjoint(tmp_path):
    root = _dataset(tmp_path / "clean", train_groups=(1, 2), test_groups=(3,))
    code, _, err = _run(root, tmp_path / "out")
    assert code == 0, err
    frame = Store(tmp_path / "out", readonly=True).results()
    assert set(frame["group_protocol"]) == {"disjoint"}


def test_overlap_runs_only_on_request_and_every_table_says_so(tmp_path):
    from benchmark.reports.report import write_reports

    root = _dataset(tmp_path / "leaky", train_groups=(1, 2), test_groups=(2, 3))
    code, _, err = _run(root, tmp_path / "out", "--allow-group-overlap")
    assert code == 0, err
    assert "running because of --allow-group-overlap" in err
    frame = Store(tmp_path / "out", readonly=True).results()
    assert set(frame["group_protocol"]) == {"overlap-allowed"}
    code, stdout, _ = bench("results", "--out", str(tmp_path / "out"))
    assert "overlap-allowed" in stdout and "opencv" in stdout   # the table shows protocol and decoder
    write_reports([tmp_path / "out"], tmp_path / "reports")
    for suffix in ("md", "html"):
        assert "allow-group-overlap" in (tmp_path / "reports" / f"video.{suffix}").read_text()


def test_dataset_without_group_ids_is_warned_and_marked(tmp_path):
    root = _dataset(tmp_path / "plain", train_groups=(1, 2), test_groups=(3,), named_groups=False)
    code, _, err = _run(root, tmp_path / "out")
    assert code == 0, err
    assert sum("has no group ids" in line for line in err.splitlines()) == 1
    frame = Store(tmp_path / "out", readonly=True).results()
    assert set(frame["group_protocol"]) == {"none"}
    assert any("no group ids" in n for n in protocol.protocol_notes(frame))


def test_decoding_provenance_is_recorded(tmp_path):
    root = _dataset(tmp_path / "clean", train_groups=(1, 2), test_groups=(3,))
    assert _run(root, tmp_path / "out")[0] == 0
    store = Store(tmp_path / "out", readonly=True)
    params = store.conn.execute("SELECT params FROM jobs").fetchone()[0]
    store.close()
    import json

    params = json.loads(params)
    assert params["decoder"].startswith(f"opencv {cv2.__version__}") and "[" in params["decoder"]
    assert params["frames_per_video"] == [8] * 6   # train (4) then test (2), 8 frames each
    assert len(params["frames_sha256"]) == 32
    assert params["trained_on_split"] == params["scored_on_split"] == 1


# --- the store invariant ---------------------------------------------------------------------------
def _job(split=1, trained=1, scored=1):
    return {"job_key": "k", "suite": "video", "dataset": "d", "split": split, "method": "m", "profile": "smoke",
            "seed": 0, "device": "cpu", "code_version": "c",
            "params": {"n_train": 4, "n_test": 2, "trained_on_split": trained, "scored_on_split": scored}}


def _outcome():
    return JobOutcome([RowResult("", {"video_hit1": 0.5}, [{"item": "v", "group": 1, "label": 0, "pred": 0}])], {})


@pytest.mark.parametrize("trained, scored, split", [(1, 2, 1), (2, 2, 1), (1, 1, 2)])
def test_store_refuses_a_model_scored_on_another_split(tmp_path, trained, scored, split):
    store = Store(tmp_path)
    run = store.start_run("bench run", {}, {}, "t0")
    with pytest.raises(ValueError, match="store invariant"):
        store.record(run, _job(split, trained, scored), "done", _outcome(), None, {}, "t0", "t1")
    assert store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    store.record(run, _job(split, split, split), "done", _outcome(), None, {}, "t0", "t1")
    assert store.job_status("k") == "done"
    store.close()


def test_store_refuses_a_harness_video_job_that_does_not_say_what_it_was_scored_on(tmp_path):
    job = _job()
    del job["params"]["scored_on_split"]
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="store invariant"):
        store.record(store.start_run("bench run", {}, {}, "t0"), job, "done", _outcome(), None, {}, "t0", "t1")
    store.close()


# --- labels and decoding comparison ----------------------------------------------------------------
def test_splits_label():
    assert protocol.splits_label("UCF101", [1, 1]) == "split 1 only (not the 3-split mean)"
    assert protocol.splits_label("hmdb51", [1, 2, 3]) == "mean ± sd of splits 1, 2, 3"
    assert protocol.splits_label("synthetic-actions", [2]) == "split 2 only"


def test_check_warns_when_the_baseline_was_decoded_differently():
    job = "video|d|smoke|split 1|seed 0|m"
    base = {"jobs": {job: {"decoder": "opencv 4.9.0 [FFMPEG]", "frames_sha256": "aa"}}}
    same = {"jobs": {job: {"decoder": "opencv 4.9.0 [FFMPEG]", "frames_sha256": "aa"}}}
    other_frames = {"jobs": {job: {"decoder": "opencv 4.9.0 [FFMPEG]", "frames_sha256": "bb"}}}
    other_decoder = {"jobs": {job: {"decoder": "opencv 4.10.0 [FFMPEG]", "frames_sha256": "bb"}}}
    assert decoding.differences(base, same) == []
    assert "other frames" in decoding.differences(base, other_frames)[0]
    assert "opencv 4.9.0 [FFMPEG] -> opencv 4.10.0 [FFMPEG]" in decoding.differences(base, other_decoder)[0]
    legacy = {"jobs": {job: {}}}
    assert "records no decoder" in decoding.differences(legacy, same)[0]


def test_protocol_notes_name_the_split():
    rows = pd.DataFrame({"dataset": ["d", "d"], "split": [1, 2], "group_protocol": ["overlap-allowed", "disjoint"]})
    notes = protocol.protocol_notes(rows)
    assert len(notes) == 1 and "d split 1" in notes[0] and "d split 2" not in notes[0]
