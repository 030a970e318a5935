"""The `bench` command end to end on the embedded dataset (smoke profile)."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest

from benchmark.cli import main, summary
from benchmark.pipeline.outcome import JobOutcome, RowResult
from benchmark.pipeline.store import Store


def bench(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code, stdout, stderr = bench("run", "--profile", "smoke", "--methods", "feature-histograms", "--out", str(out),
                                 "--device", "cpu")
    assert code == 0, stderr
    return out, stdout


def test_run_prints_summary_and_stores_provenance(smoke_run):
    out, stdout = smoke_run
    assert "feature-histograms" in stdout and "video hit@1" in stdout
    store = Store(out, readonly=True)
    frame = store.results()
    row = frame.iloc[0]
    assert row["status"] == "done" and 0 <= row["video_hit1"] <= 1
    assert row["train_s"] > 0 and row["infer_s"] > 0 and row["reference_s"] > 0
    assert row["device_name"].startswith("cpu") and row["commit"]
    config = store.last_run_config()
    assert config["profile"] == "smoke" and config["methods"] == ["feature-histograms"]
    assert len(store.predictions(row["job_key"])) == row["n_videos"]
    store.close()


def test_rerun_is_a_no_op(smoke_run):
    out, _ = smoke_run
    before = Store(out, readonly=True).results()
    code, stdout, stderr = bench("run", "--profile", "smoke", "--methods", "feature-histograms", "--out", str(out),
                                 "--device", "cpu")
    after = Store(out, readonly=True).results()
    assert code == 0 and "1 of 1 jobs already done" in stdout + stderr
    assert list(after["finished"]) == list(before["finished"])


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_results_formats(smoke_run, fmt):
    out, _ = smoke_run
    code, stdout, _ = bench("results", "--out", str(out), "--format", fmt)
    assert code == 0 and "feature-histograms" in stdout
    if fmt == "json":
        rows = json.loads(stdout)
        assert rows[0]["status"] == "done" and "commit" in rows[0]


@pytest.mark.parametrize("args, valid", [
    (("run", "--methods", "nope"), "feature-histograms"),
    (("run", "--profile", "huge"), "smoke, ci, quick, confirm, paper"),
    (("run", "--suite", "audio"), "video, generative, all"),
    (("run", "--split", "4"), "1, 2, 3, all"),
    (("run", "--dataset", "no-such-dataset"), "synthetic-actions"),
    (("list", "things"), "methods, datasets"),
])
def test_unknown_names_get_one_line_listing_valid_ones(tmp_path, args, valid):
    code, _, stderr = bench(*args, *(["--out", str(tmp_path)] if args[0] == "run" else []))
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: unknown") and valid in lines[0]


def test_results_without_a_store_is_a_clear_error(tmp_path):
    code, _, stderr = bench("results", "--out", str(tmp_path / "nothing"))
    assert code == 2 and "no results store" in stderr


def test_list_methods_and_datasets():
    code, stdout, _ = bench("list", "methods")
    assert code == 0 and "feature-histograms" in stdout
    code, stdout, _ = bench("list", "datasets")
    assert code == 0 and "synthetic-actions" in stdout


def test_list_costs_paper_profile_counts_c3d_as_published():
    code, stdout, _ = bench("list", "methods", "--costs", "--profile", "paper")
    assert code == 0 and "2 per multiply-add" in stdout
    c3d = next(line.split() for line in stdout.splitlines() if line.strip().startswith("c3d"))
    assert abs(float(c3d[1]) - 78.4) / 78.4 < 0.01          # M parameters
    assert abs(float(c3d[2]) / 2 - 38.5) / 38.5 < 0.01      # G multiply-adds per 3x16x112x112 view


def test_run_summary_has_a_dataset_column(smoke_run):
    _, stdout = smoke_run
    header = next(line for line in stdout.splitlines() if "video hit@1" in line)
    assert header.split()[:2] == ["dataset", "method"] and "tied top" in header


def test_run_summary_is_readable_and_names_the_next_commands(smoke_run):
    out, stdout = smoke_run
    assert "NaN" not in stdout and "nan" not in stdout.lower().replace("synthetic", "")
    header = next(line for line in stdout.splitlines() if line.startswith("dataset"))
    row = next(line for line in stdout.splitlines() if line.startswith("synthetic-actions"))
    assert "%" in row and "extract" not in header     # hit@1 as a percentage; the histograms have no extract phase
    lines = stdout.rstrip().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("next:"))
    commands = " ".join(lines[first:])
    assert first >= len(lines) - 3
    for command in (f"bench report --out {out}", f"bench check --baseline FILE --out {out}",
                    f"bench results --out {out} --format csv"):
        assert command in commands


def _store_with_variants(out):
    """A classical job with two channel variants, a deep job with clip accuracy, a failed job."""
    store = Store(out)
    run_id = store.start_run("bench run (test)", {}, {}, "t0")
    job = {"suite": "video", "dataset": "toy", "split": 1, "profile": "smoke", "seed": 0, "device": "cpu",
           "code_version": "t"}
    rows = [RowResult(variant, {"video_hit1": hit, "video_hit5": 0.9, "mean_class_acc": hit}, [])
            for variant, hit in (("combined", 0.625), ("hof", 0.25))]
    store.record(run_id, {**job, "job_key": "k1", "method": "dt-bow-svm"}, "done",
                 JobOutcome(rows, {"extract_s": 4.5, "train_s": 12.34, "infer_s": 0.0631}), None, {}, "t0", "t1")
    deep = RowResult("", {"video_hit1": 0.1, "clip_hit1": 0.1375, "video_hit5": 0.5, "mean_class_acc": 0.1}, [])
    store.record(run_id, {**job, "job_key": "k2", "method": "c3d"}, "done",
                 JobOutcome([deep], {"extract_s": 0.03, "train_s": 1.809, "infer_s": 0.5255}), None, {}, "t0", "t1")
    store.record(run_id, {**job, "job_key": "k3", "method": "lrcn"}, "failed", None, "ValueError: x", {},
                 "t0", "t1")
    frame = store.results()
    store.close()
    return frame


def test_summary_groups_variants_under_their_job(tmp_path):
    text = summary(_store_with_variants(tmp_path), "video")
    lines = text.splitlines()
    assert "NaN" not in text and "nan" not in text
    assert [line.split()[1] for line in lines if line.startswith("toy")] == ["c3d", "dt-bow-svm", "lrcn"]
    method_line = next(line for line in lines if "dt-bow-svm" in line)
    variants = lines[lines.index(method_line) + 1:lines.index(method_line) + 3]
    assert [v.split()[0] for v in variants] == ["combined", "hof"] and all(v.startswith(" ") for v in variants)
    assert "12.34" in method_line and not any("12.34" in v or "4.50" in v for v in variants)   # once per job
    assert "62.5%" in variants[0] and "25.0%" in variants[1] and "%" not in method_line
    c3d = next(line for line in lines if "c3d" in line)
    assert "13.8%" in c3d and "1.81" in c3d and "–" not in c3d
    assert "–" in variants[0]                              # no clip accuracy for a classical method
    lrcn = next(line for line in lines if "lrcn" in line)
    assert "failed" in lrcn and lrcn.count("–") >= 4
    assert lines[0].split("  ")[0:2] == ["dataset", "method"] and "video hit@1" in lines[0]


def _csv_rows(text):
    import csv

    return list(csv.DictReader(io.StringIO(text)))


def test_results_csv_puts_key_columns_first_and_leaves_matrices_to_json(smoke_run):
    out, _ = smoke_run
    code, stdout, _ = bench("results", "--out", str(out), "--format", "csv")
    assert code == 0
    header = stdout.splitlines()[0].split(",")
    assert header[:12] == ["method", "variant", "suite", "dataset", "profile", "split", "seed", "status",
                           "video_hit1", "clip_hit1", "video_hit5", "mean_class_acc"]
    assert "confusion" not in header
    assert not any(cell.startswith(("[", "{")) for row in _csv_rows(stdout) for cell in row.values())
    code, stdout, _ = bench("results", "--out", str(out), "--format", "json")
    rows = json.loads(stdout)
    assert list(rows[0])[:3] == ["method", "variant", "suite"]
    assert isinstance(rows[0]["confusion"], list) and len(rows[0]["confusion"]) > 1


def test_results_csv_wide_brings_the_matrices(smoke_run):
    out, _ = smoke_run
    code, stdout, _ = bench("results", "--out", str(out), "--format", "csv", "--wide")
    assert code == 0
    row = _csv_rows(stdout)[0]
    confusion = json.loads(row["confusion"])
    assert len(confusion) == len(confusion[0]) > 1 and sum(map(sum, confusion)) == int(float(row["n_videos"]))
    code, _, stderr = bench("results", "--out", str(out), "--format", "json", "--wide")
    assert code == 2 and "--wide applies to --format csv" in stderr
    help_out = io.StringIO()
    with redirect_stdout(help_out), pytest.raises(SystemExit):
        main(["results", "--help"])
    help_text = " ".join(help_out.getvalue().split())
    assert "--wide" in help_text and "left out of csv unless --wide" in help_text


def test_help_is_a_description_and_datasets_are_readable():
    code, stdout, _ = bench("list", "datasets")
    assert code == 0 and "ImageSource(" not in stdout and "scikit-learn 8x8 digits" in stdout
    with pytest.raises(SystemExit):
        bench("--help")
    import benchmark.cli as cli_module

    help_text = cli_module.build_parser().format_help()
    assert "``" not in help_text and "Benchmark classical computer vision" in help_text


def test_repeated_method_names_plan_one_job(monkeypatch, tmp_path):
    from benchmark.pipeline import run as run_module

    seen = {}

    def fake_run(config, argv):
        seen["methods"] = config.methods
        raise SystemExit(0)
    monkeypatch.setattr(run_module, "run", fake_run)
    with pytest.raises(SystemExit):
        bench("run", "--methods", "feature-histograms,feature-histograms", "--out", str(tmp_path))
    assert seen["methods"] == ("feature-histograms",)


def test_library_warnings_of_a_job_become_one_line(capsys):
    import warnings

    from benchmark.pipeline.runner import warnings_line

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from sklearn.exceptions import ConvergenceWarning

        for i in range(30):
            warnings.warn(f"lbfgs failed to converge (iteration {i})", ConvergenceWarning)
        warnings.warn("something else", UserWarning)
    line = warnings_line(caught, "job x (split 1, seed 0)")
    assert line == ("warning: job x (split 1, seed 0): 31 library warning(s): ConvergenceWarning x30 "
                    "(lbfgs failed to converge (iteration 0)); UserWarning x1 (something else)")
    assert warnings_line([], "job x") is None


def test_progress_bars_are_silent_when_stderr_is_not_a_terminal(capsys):
    from benchmark.common.progress import progress

    for _ in progress(range(1000), desc="extracting", unit="video"):
        pass
    assert capsys.readouterr().err == ""
