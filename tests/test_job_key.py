"""Every source file that changes stored numbers is in the job key; small CLI contracts of issue 11."""
from __future__ import annotations

import builtins
import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.pipeline import plan
from benchmark.registry import density_methods, video_methods

ROOT = Path(__file__).resolve().parents[1]
NUMBER_FILES = ("benchmark/audits/memorisation.py", "benchmark/data/images.py", "benchmark/data/video.py",
                "benchmark/data/synthetic.py", "benchmark/pipeline/metrics.py", "benchmark/pipeline/runner.py",
                "benchmark/pipeline/generative_suite.py", "benchmark/pipeline/validation.py")


@pytest.mark.parametrize("spec", [video_methods()["c3d"], density_methods()["pixelcnn"]], ids=lambda s: s.name)
def test_editing_any_number_file_changes_the_key(spec, tmp_path, monkeypatch):
    for f in set(plan.HARNESS_FILES) | {f for f in spec.code_files if f.endswith(".py")}:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / f, tmp_path / f)
    monkeypatch.setattr(plan, "PROJECT_ROOT", tmp_path)
    before = plan.code_version(spec)
    assert set(NUMBER_FILES) <= set(plan.HARNESS_FILES)
    for f in NUMBER_FILES:
        original = (tmp_path / f).read_bytes()
        (tmp_path / f).write_bytes(original + b"\n# edited\n")
        assert plan.code_version(spec) != before, f"editing {f} leaves the job key unchanged"
        (tmp_path / f).write_bytes(original)
    assert plan.code_version(spec) == before
    (tmp_path / "benchmark/data/video.py").unlink()
    with pytest.raises(FileNotFoundError, match="video.py"):
        plan.code_version(spec)


def test_split_with_the_generative_suite_is_an_error(capsys):
    assert main(["run", "--suite", "generative", "--split", "2", "--profile", "smoke"]) == 2
    assert "--split applies to the video suite" in capsys.readouterr().err
    assert main(["run", "--suite", "generative", "--validation"]) == 2


def test_a_missing_optional_dependency_is_one_line_naming_the_command(monkeypatch, capsys):
    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "benchmark.reports.cli":
            raise ImportError("No module named 'matplotlib'", name="matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing)
    assert main(["report", "--to", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bench report" in err[0] and "matplotlib" in err[0]
    assert main(["check", "--baseline", "b.json"]) == 2


def _dirty_store(out):
    from benchmark.pipeline.outcome import JobOutcome, RowResult
    from benchmark.pipeline.store import Store

    store = Store(out)
    run_id = store.start_run("bench run (test)", {"workers": 1}, {}, "t0")
    preds = [{"item": f"v{i}", "group": i % 3, "label": i % 2, "pred": 0, "scores": [0.5, 0.5]} for i in range(12)]
    outcome = JobOutcome([RowResult("", {"video_hit1": 0.5}, preds)], {"train_s": 1.0, "reference_s": 0.01}, {})
    job = {"job_key": "k", "suite": "video", "dataset": "toy", "split": 1, "method": "c3d", "profile": "smoke",
           "seed": 0, "device": "cpu", "code_version": "t"}
    store.record(run_id, job, "done", outcome, None, {"commit": "0123abc+dirty"}, "t0", "t1")
    store.close()


def test_baselines_refuse_and_reports_mark_uncommitted_code(tmp_path, capsys):
    _dirty_store(tmp_path / "run")
    baseline = tmp_path / "baseline.json"
    assert main(["check", "--baseline", str(baseline), "--out", str(tmp_path / "run"), "--update"]) == 2
    assert "uncommitted code" in capsys.readouterr().err and not baseline.exists()
    assert main(["check", "--baseline", str(baseline), "--out", str(tmp_path / "run"), "--update",
                 "--allow-dirty"]) == 0
    assert main(["report", "--out", str(tmp_path / "run"), "--to", str(tmp_path / "reports")]) == 0
    assert "uncommitted code" in capsys.readouterr().err
    text = (tmp_path / "reports" / "video.md").read_text()
    assert "WARNING: results made from uncommitted code (0123abc+dirty)" in text.splitlines()[2]
