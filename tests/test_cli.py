"""The `bench` command end to end on the embedded dataset (smoke profile)."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest

from benchmark.cli import main
from benchmark.store import Store


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
    assert "feature-histograms" in stdout and "video_hit1" in stdout
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
    code, stdout, _ = bench("run", "--profile", "smoke", "--methods", "feature-histograms", "--out", str(out),
                            "--device", "cpu")
    after = Store(out, readonly=True).results()
    assert code == 0 and "1 of 1 jobs already done" in stdout
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
    (("run", "--profile", "huge"), "smoke, quick, paper"),
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
    header = next(line for line in stdout.splitlines() if "video_hit1" in line)
    assert header.split()[:2] == ["dataset", "method"] and "n_tied_top" in header


def test_help_is_a_description_and_datasets_are_readable():
    code, stdout, _ = bench("list", "datasets")
    assert code == 0 and "ImageSource(" not in stdout and "scikit-learn 8x8 digits" in stdout
    with pytest.raises(SystemExit):
        bench("--help")
    import benchmark.cli as cli_module

    help_text = cli_module.build_parser().format_help()
    assert "``" not in help_text and "Benchmark classical computer vision" in help_text


def test_repeated_method_names_plan_one_job(monkeypatch, tmp_path):
    from benchmark import run as run_module

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

    from benchmark.runner import warnings_line

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
    from benchmark.progress import progress

    for _ in progress(range(1000), desc="extracting", unit="video"):
        pass
    assert capsys.readouterr().err == ""
