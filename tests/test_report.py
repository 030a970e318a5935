"""``bench report`` on a real smoke run and on a hand-written store with every kind of row."""
from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.pipeline.outcome import JobOutcome, RowResult
from benchmark.pipeline.store import Store
from benchmark.reports.report import ONE_SEED_NOTE, load_published, paper_text, write_reports


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    assert main(["run", "--profile", "smoke", "--methods", "feature-histograms", "--out", str(out),
                 "--workers", "1"]) == 0
    return out


def test_report_of_a_smoke_run(smoke_run, tmp_path):
    to = tmp_path / "reports"
    assert main(["report", "--out", str(smoke_run), "--to", str(to)]) == 0
    for name in ("video.md", "video.csv", "video.tex", "video.html", "figures/video-accuracy-vs-throughput.png",
                 "figures/video-accuracy-by-family.png", "figures/video-confusion-classical.png",
                 "figures/video-per-class-accuracy.png"):
        assert (to / name).is_file(), name
    assert not (to / "generative.md").exists()   # no generative rows in this run
    assert not (to / "figures/video-findings.png").exists()   # no claim can be tested on one method

    stored = Store(smoke_run, readonly=True).results()
    table = pd.read_csv(to / "video.csv")
    row = table[table["method"] == "feature-histograms"].iloc[0]
    assert row["video_hit1"] == pytest.approx(stored["video_hit1"].iloc[0])     # from the store, not recomputed
    assert row["video_hit1_low"] <= row["video_hit1"] <= row["video_hit1_high"]
    assert row["mean_class_acc_low"] <= row["mean_class_acc"] <= row["mean_class_acc_high"]

    md = (to / "video.md").read_text()
    assert re.search(r"\| feature-histograms \| classical \| rgb \| [\d.]+ \| [\d.]+ \[[\d.]+, [\d.]+\] \|", md)
    assert "† 55.3 video hit@1" in md and "Sports-1M" in md and "not our results" in md
    tex = (to / "video.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and "feature-histograms" in tex
    page = (to / "video.html").read_text()
    assert page.count("data:image/png;base64,") == 4
    assert not re.search(r"src=['\"](?!data:)", page)                             # self-contained
    device = stored["device_name"].iloc[0]
    assert md.count(device) == 1 and page.count(device) == 1                      # said once, in the header
    assert "settings chosen on" in page and stored["settings_chosen_on"].iloc[0] in page
    assert "<table class='sortable'>" in page and "title='† 55.3 video hit@1: Feature Histograms" in page
    assert "Figure 1.</b> Video hit@1 of every row" in page


def _fake_store(out, artefact_png, rich: bool = False):
    """Rows of every shape the report handles, written the way the driver writes them; ``rich`` adds rows of
    more families, a second density model, a nearest-neighbour grid and a planted-copies audit."""
    rng = np.random.default_rng(0)
    store = Store(out)
    run_id = store.start_run("bench run (test)", {}, {}, "2026-01-01T00:00:00+00:00")
    labels = np.repeat(np.arange(4), 6)
    groups = np.tile(np.arange(1, 4), 8)
    items = [f"C{y}/v_C{y}_g{g:02d}_c{k + 1:02d}.avi" for k, (y, g) in enumerate(zip(labels, groups))]

    def video_row(variant, accuracy):
        pred = np.where(rng.random(len(labels)) < accuracy, labels, (labels + 1) % 4)
        scores = np.eye(4)[pred] * 0.7 + 0.075
        confusion = np.zeros((4, 4), int)
        np.add.at(confusion, (labels, pred), 1)
        preds = [{"item": items[i], "group": int(groups[i]), "label": int(labels[i]), "pred": int(pred[i]),
                  "scores": scores[i].tolist()} for i in range(len(labels))]
        metrics = {"video_hit1": float(np.mean(pred == labels)), "video_hit5": 1.0, "clip_hit1": 0.5,
                   "mean_class_acc": float(np.mean(pred == labels)), "n_videos": len(labels),
                   "confusion": confusion.tolist(), "pair_acc_direction": 0.5}
        return RowResult(variant, metrics, preds)

    def job(key, suite, method, status="done", outcome=None, error=None, seed=0):
        store.record(run_id, {"job_key": key, "suite": suite, "dataset": "toy", "split": 1, "method": method,
                              "profile": "smoke", "seed": seed, "device": "cpu", "code_version": "t"},
                     status, outcome, error, {}, "t0", "t1")

    timings = {"train_s": 1.0, "infer_s": 0.1, "reference_s": 0.01, "train_clips_per_s": 100.0,
               "infer_clips_per_s": 300.0, "infer_videos_per_s": 240.0}
    job("dt", "video", "dt-bow-svm", outcome=JobOutcome(
        [video_row(v, a) for v, a in zip(("traj", "hog", "hof", "mbh", "combined"), (.5, .4, .6, .7, .8))],
        timings, {"params": 0}))
    job("ts", "video", "two-stream", outcome=JobOutcome(
        [video_row("spatial", .4), video_row("fusion-avg", .7)], dict(timings, infer_videos_per_s=30.0),
        {"params": 12345, "flops_per_view": 2.5e8, "views": 25, "flops_convention": "2 FLOPs per multiply-add"}))
    job("bad", "video", "c3d", status="failed", error="RuntimeError: out of memory [c3d.py:1]")
    nll = rng.normal(90, 5, 50)
    density = RowResult("", {"kind": "exact", "nll_nats": float(nll.mean()), "dims": 64,
                             "bits_per_dim": float(nll.mean() / (64 * np.log(2))),
                             "gap_nats": -1.5, "nn_memorised_frac": 0.0, "nn_mw_z": 0.3},
                        [{"item": f"test/{i}", "group": "test", "nll_nats": float(v)} for i, v in enumerate(nll)])
    job("pc", "generative", "pixelcnn", outcome=JobOutcome([density], {"train_s": 2.0, "reference_s": 0.01},
                                                            {"context_seen": 0.9512},
                                                            [str(artefact_png)]))
    if rich:
        for key, method, accuracy, speed in (("sf", "single-frame", .3, 900.0), ("lr", "lrcn", .6, 60.0),
                                             ("fh", "feature-histograms", .2, 4000.0)):
            job(key, "video", method, outcome=JobOutcome([video_row("", accuracy)],
                                                         dict(timings, infer_videos_per_s=speed), {"params": 999}))
        grid = artefact_png.with_name("gmm-full-nearest-train.png")
        grid.write_bytes(artefact_png.read_bytes())
        gmm = RowResult("", {"kind": "dequantised-bound", "nll_nats": float(nll.mean() + 20), "dims": 64,
                             "bits_per_dim": float((nll.mean() + 20) / (64 * np.log(2)))},
                        [{"item": f"test/{i}", "group": "test", "nll_nats": float(v + 20)} for i, v in enumerate(nll)])
        job("gm", "generative", "gmm-full", outcome=JobOutcome([gmm], {"train_s": 0.5}, {}, [str(grid)]))
        power = [{"space": "pixel", "copy_kind": kind, "rate": rate, "detector": detector, "trials": 3,
                  "detection_rate": min(1.0, 10 * rate)}
                 for kind in ("exact", "noise") for rate in (0.0, 0.05, 0.25) for detector in ("nn-ratio", "ct")]
        for seed, mmd in enumerate((0.02, 0.09)):   # a sampler trained with two seeds: the stability figure
            gan = RowResult("", {"kind": "none (no likelihood)", "nll_nats": None, "mmd2_test": mmd,
                                 "mmd2_train_test": 0.001, "nn_realistic_frac": 0.5 - mmd})
            job(f"gan{seed}", "generative", "gan", outcome=JobOutcome([gan], {"train_s": 1.0}, {}), seed=seed)
        job("pca", "generative", "planted-copies", outcome=JobOutcome(
            [RowResult("", {"kind": "audit (planted copies)", "power": power})], {"study_s": 1.0}, {}))
    store.close()


def test_report_of_every_row_kind(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png = tmp_path / "pixelcnn-samples.png"
    plt.imsave(png, np.random.default_rng(0).random((8, 8)))
    out, to = tmp_path / "run", tmp_path / "reports"
    _fake_store(out, png)
    written = write_reports([out], to)
    names = {p.name for p in written}
    assert {"video.md", "generative.md", "generative.html", "generative.csv", "generative.tex",
            "video-dt-descriptor-ablation.png", "generative-pixelcnn-samples.png"} <= names

    video = (to / "video.md").read_text()
    for method in ("dt-bow-svm/hog", "dt-bow-svm/combined", "two-stream/spatial", "two-stream/fusion-avg"):
        assert f"| {method} |" in video
    assert "## Findings" in video and "Holm" in video
    assert "† 86.5 accuracy: HOG, KTH, person split (test persons 2 3 5-10 22) (Wang et al. CVPR 2011, Table 1)" in video
    assert "† 86.9 accuracy: Two-stream fusion by averaging, UCF101" in video
    assert "250M × 25 (1)" in video and "(1) FLOPs convention: 2 FLOPs per multiply-add" in video
    assert "FAILED: c3d" in video and "out of memory" in video
    assert "| direction |" in video

    generative = (to / "generative.md").read_text()
    for anchor in ("81.30", "79.20", "3.14", "2.92"):
        assert anchor in generative
    assert "† 81.30 nats: PixelCNN, binarized MNIST" in generative
    table = pd.read_csv(to / "generative.csv")
    row = table.iloc[0]
    assert row["nll_nats_low"] < row["nll_nats"] < row["nll_nats_high"]
    cells = [c.strip() for c in next(l for l in generative.splitlines() if l.startswith("| pixelcnn |")).split("|")]
    point, low, high = map(float, re.fullmatch(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", cells[4]).groups())  # bits/dim
    assert low < point < high
    header = [c.strip() for c in generative.splitlines()[generative.splitlines().index(
        next(l for l in generative.splitlines() if l.startswith("| pixelcnn |"))) - 2].split("|")]
    assert cells[header.index("context seen")] == "0.951" and "'context seen'" in generative
    assert (to / "generative.html").read_text().count("data:image/png;base64,") == 2   # bits/dim + samples


def test_paper_text_tolerates_unknown_methods():
    published = load_published()
    assert paper_text(published, "no-such-method") == ""
    assert "Karpathy" in paper_text(published, "slow-fusion")


def test_published_figures_are_copied_verbatim(shared_data):
    """Every figure in benchmark/reports/published.csv is a row of the shared published results, unchanged."""
    with open(shared_data / "published" / "results.csv") as handle:
        source = {tuple(r.values()) for r in csv.DictReader(handle)}
    ours = load_published()
    assert len(ours) > 20
    for row in ours.drop(columns=["ours", "pretrained"]).itertuples(index=False):
        assert tuple(row) in source, row


def test_published_figures_match_the_variant_we_implement():
    """Modality, encoding and pre-training of each paper figure match the row it stands beside."""
    from benchmark.registry import video_methods
    from benchmark.reports.report import STREAM_MODALITY

    registry = video_methods()
    published = load_published()
    for row in published[published["ours"] != ""].itertuples(index=False):
        base = row.ours.split("/")[0]
        if base not in registry:
            continue   # a generative row
        modality = STREAM_MODALITY.get(row.ours, registry[base].modality)
        name = row.method.lower()
        if "flow" in name.split():
            assert "flow" in modality, row
        if modality == "rgb":
            assert "flow" not in name, row
        assert ("fv" in name or "fisher" in name) == row.ours.startswith("dt-fv"), row
        assert ("improved" in name or "idt" in name) == row.ours.startswith("idt"), row
        said_pretrained = any(w in (name + " " + row.note).lower() for w in ("pre-trained", "pretrained", "fine-tune"))
        assert not said_pretrained or row.pretrained, row
    text = paper_text(published, "lrcn")
    assert "PRE-TRAINED" in text and "ImageNet" in text
    assert "features then SVM" not in paper_text(published, "c3d")   # the Sports-1M SVM figure is not ours


def test_report_of_a_run_whose_jobs_all_failed(tmp_path):
    store = Store(tmp_path / "run")
    run_id = store.start_run("bench run (test)", {}, {}, "t0")
    store.record(run_id, {"job_key": "k", "suite": "video", "dataset": "toy", "split": 1, "method": "c3d",
                          "profile": "smoke", "seed": 0, "device": "cpu", "code_version": "t"},
                 "failed", None, "ValueError: bad input [c3d.py:9]", {}, "t0", "t1")
    store.close()
    write_reports([tmp_path / "run"], tmp_path / "reports")
    text = (tmp_path / "reports" / "video.md").read_text()
    assert "(no rows)" in text and "FAILED: c3d (split 1, seed 0): ValueError: bad input" in text


def test_report_without_a_store_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "nothing"), "--to", str(tmp_path / "r")]) == 2
    assert "no results store" in capsys.readouterr().err


def test_runs_from_several_directories_and_seeds_are_pooled(tmp_path):
    """Two run directories, one seed each, same method: one table row, the mean, runs = 2."""
    labels = np.repeat(np.arange(3), 10)
    groups = np.tile(np.arange(5), 6)
    for seed, n_right in ((0, 12), (1, 24)):
        pred = labels.copy()
        pred[n_right:] = (labels[n_right:] + 1) % 3
        preds = [{"item": f"v{i}", "group": int(groups[i]), "label": int(labels[i]), "pred": int(pred[i]),
                  "scores": []} for i in range(30)]
        store = Store(tmp_path / f"run{seed}")
        run_id = store.start_run("bench run (test)", {}, {}, "t0")
        store.record(run_id, {"job_key": f"k{seed}", "suite": "video", "dataset": "toy", "split": 1,
                              "method": "single-frame", "profile": "quick", "seed": seed, "device": "cpu",
                              "code_version": "t"},
                     "done", JobOutcome([RowResult("", {"video_hit1": n_right / 30}, preds)], {"infer_s": 1.0}),
                     None, {}, "t0", "t1")
        store.close()
    write_reports([tmp_path / "run0", tmp_path / "run1"], tmp_path / "reports")
    row = pd.read_csv(tmp_path / "reports" / "video.csv").iloc[0]
    assert row["runs"] == 2
    assert row["video_hit1"] == pytest.approx(0.6)
    assert row["video_hit1_low"] < 0.6 < row["video_hit1_high"]
    assert ONE_SEED_NOTE not in (tmp_path / "reports" / "video.md").read_text()   # two seeds of split 1
    write_reports([tmp_path / "run0"], tmp_path / "one-seed")
    assert ONE_SEED_NOTE in (tmp_path / "one-seed" / "video.md").read_text()


def test_report_goes_beside_the_results_by_default_and_empty_cells_are_blank(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmark.reports.report import _markdown_table, latex_table

    png = tmp_path / "pixelcnn-samples.png"
    plt.imsave(png, np.random.default_rng(0).random((8, 8)))
    _fake_store(tmp_path / "run", png)
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "reports" / "video.md").is_file()
    assert not (tmp_path / "reports").exists()           # never the checkout's committed reports/
    frame = pd.DataFrame({"a": [1.5, np.nan], "b": ["x", None]}, dtype=object)   # pandas 3 kept NaN in astype(str)
    assert _markdown_table(frame).splitlines()[-1] == "|  |  |"
    assert "nan" not in latex_table(frame, "c").lower().replace("\\begin", "")


def test_one_out_dir_with_rows_of_two_datasets_reports_blank_cells(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png = tmp_path / "pixelcnn-samples.png"
    plt.imsave(png, np.random.default_rng(0).random((8, 8)))
    _fake_store(tmp_path / "run", png)
    store = Store(tmp_path / "run")                   # a second dataset in the same --out, fewer metrics
    run_id = store.start_run("bench run (test)", {}, {}, "2026-01-02T00:00:00+00:00")
    preds = [{"item": f"A/v{i}.avi", "group": i, "label": i % 2, "pred": 0, "scores": [0.6, 0.4]} for i in range(4)]
    store.record(run_id, {"job_key": "other", "suite": "video", "dataset": "other", "split": 1,
                          "method": "feature-histograms", "profile": "smoke", "seed": 0, "device": "cpu",
                          "code_version": "t"}, "done",
                 JobOutcome([RowResult("", {"video_hit1": 0.5, "n_videos": 4}, preds)], {"train_s": 1.0}, {}),
                 None, {}, "t0", "t1")
    store.close()
    assert main(["report", "--out", str(tmp_path / "run"), "--to", str(tmp_path / "r")]) == 0
    video = (tmp_path / "r" / "video.md").read_text()
    line = next(l for l in video.splitlines() if l.startswith("| other | feature-histograms |"))
    assert "nan" not in line.lower() and "| |" in line.replace("|  |", "| |")


def test_every_video_method_is_shown_in_a_named_family():
    from benchmark.registry import video_methods
    from benchmark.reports.report import video_group
    from benchmark.reports.figures import GROUP_ORDER

    for name, spec in video_methods().items():
        assert video_group(name, spec.family) in GROUP_ORDER, name
    assert video_group("two-stream/temporal") == "two-stream" and video_group("new-net", "deep") == "deep"


def test_every_figure_has_a_caption_that_says_how_to_read_it(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmark.reports.report import collect, generative_section, video_section

    png = tmp_path / "pixelcnn-samples.png"
    plt.imsave(png, np.random.default_rng(0).random((8, 8)))
    _fake_store(tmp_path / "run", png, rich=True)
    frame, published = collect([tmp_path / "run"]), load_published()
    video = video_section(frame[frame["suite"] == "video"], published)
    generative = generative_section(frame[frame["suite"] == "generative"], published)
    assert {"accuracy-by-family", "findings", "accuracy-vs-throughput", "confusion classical", "confusion two-stream",
            "confusion frame CNNs", "confusion recurrent", "per-class-accuracy",
            "dt-descriptor-ablation"} <= set(video.figures)
    assert {"bits-per-dim", "pixelcnn-samples", "gmm-full-nearest-train", "planted copies",
            "sampler-stability"} <= set(generative.figures)
    assert "toy gan: MMD² to test over 2 seed(s): mean 0.0550, sd 0.0495, range 0.0200-0.0900" in " ".join(generative.notes)
    for section in (video, generative):
        for name in section.figures:
            caption = section.captions[name]
            assert len(caption) > 80 and caption != name, name
    assert [n for n, w in video.placement.items() if w == "top"] == ["accuracy-by-family", "findings"]
    assert generative.placement["pixelcnn-samples"] == "samples"
    assert generative.placement["gmm-full-nearest-train"] == "nearest"
    # five DT variants in one family: the confusion figure keeps one matrix per job, not sixteen thumbnails
    assert "(feature-histograms, dt-bow-svm/combined)" in video.captions["confusion classical"]


def test_findings_rows_read_the_effect_and_interval():
    from benchmark.analysis.findings import CLAIMS
    from benchmark.reports.figures import findings_rows

    table = pd.DataFrame({"claim": [CLAIMS[1].text, CLAIMS[0].text],
                          "effect [95% CI]": ["+29.2 [+9.7, +47.2] points", ""],
                          "verdict": ["supported", "not tested (single-frame not in this dataset's run)"]})
    first, second = findings_rows(table, CLAIMS)
    assert (first.estimate, first.low, first.high, first.threshold) == (29.2, 9.7, 47.2, 0.0)
    assert np.isnan(second.estimate) and second.threshold == pytest.approx(10.0) and second.direction == "within"


def _overlapping_labels(labels) -> list[tuple[str, str]]:
    visible = [t for t in labels if t.get_visible() and t.get_text()]
    fig = visible[0].figure
    fig.canvas.draw()
    boxes = [(t.get_text(), t.get_window_extent()) for t in visible]
    return [(a, b) for i, (a, box) in enumerate(boxes) for b, other in boxes[i + 1:] if box.overlaps(other)]


@pytest.mark.parametrize("speeds", [(150.0, 400.0, 900.0), (3.0, 40.0, 20000.0), (500.0, 510.0, 520.0)])
def test_throughput_tick_labels_do_not_collide(speeds):
    from benchmark.reports.figures import throughput_figure

    numeric = pd.DataFrame({"dataset": "toy", "method": ["a", "b", "c"], "group": "classical",
                            "video_hit1": [0.3, 0.5, 0.7], "video_hit1_low": [0.2, 0.4, 0.6],
                            "video_hit1_high": [0.4, 0.6, 0.8], "infer_videos_per_s": list(speeds)})
    fig = throughput_figure(numeric)
    ax = fig.axes[0]
    labels = ax.get_xticklabels() + ax.get_xticklabels(minor=True)
    shown = [t.get_text() for t in labels if t.get_text()]
    assert 2 <= len(shown) <= 7, shown
    assert not _overlapping_labels(labels)


def test_per_class_colour_bar_label_is_inside_the_saved_image():
    from benchmark.common.plotting import to_png
    from benchmark.reports.figures import per_class_figure

    fig = per_class_figure({"only-row": np.eye(3, dtype=int) * 4}, {0: "a", 1: "b", 2: "c"})
    fig.canvas.draw()
    label = fig.axes[-1].yaxis.label
    assert "accuracy" in label.get_text()
    box, canvas = label.get_window_extent(), fig.bbox
    assert canvas.y0 <= box.y0 and box.y1 <= canvas.y1 and box.x1 <= canvas.x1   # on the canvas, not cut
    assert to_png(fig)[:4] == b"\x89PNG"


def test_shared_columns_are_said_once():
    from benchmark.reports.report import collapse_shared

    table = pd.DataFrame({"method": ["a", "b"], "device": ["cpu: X", "cpu: X"], "splits": ["split 1 only"] * 2,
                          "settings chosen on": ["validation", "test split (legacy)"]})
    shown, shared = collapse_shared(table)
    assert list(shown.columns) == ["method", "settings chosen on"]
    assert shared == {"splits": "split 1 only"}          # the device is in the header already
    assert list(collapse_shared(table.assign(device=["cpu: X", "cuda: Y"]))[0].columns) == [
        "method", "device", "settings chosen on"]


def test_a_confusion_matrix_of_many_classes_has_no_unreadable_text():
    from benchmark.common.plotting import MAX_NAMED, confusion_panel, pyplot

    plt = pyplot()
    for n, texts in ((4, True), (101, False)):
        fig, ax = plt.subplots()
        matrix = np.eye(n, dtype=int) * 3 + 1
        confusion_panel(ax, matrix, [f"class {i}" for i in range(n)], "m")
        assert (len(ax.texts) > 0) == texts and len(ax.get_xticklabels()) <= max(n, 1 + n // 10)
        assert n <= MAX_NAMED or not any(t.get_text().startswith("class") for t in ax.get_xticklabels())
        plt.close(fig)
