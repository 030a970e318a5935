"""The figures of ``bench report`` and their captions (what each shows and how to read it).

Every function takes the report's numeric tables and returns PNG bytes; the drawing primitives are in
``benchmark.common.plotting``.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from benchmark.analysis import stats
from benchmark.common import plotting

# each group's colour is its place here: a new group goes last
GROUP_ORDER = ("classical", "frame CNNs", "3-D CNN", "two-stream", "recurrent", "feature pooling")

ACCURACY_CAPTION = (
    "Video hit@1 of every row (dot) with its 95% bootstrap interval (bar), grouped by architecture family in "
    "the table's order; the dotted line is chance (one over the number of classes). Rows whose bars do not "
    "overlap clearly differ; for rows whose bars overlap, the Findings' paired tests (same videos) decide.")
FINDINGS_CAPTION = (
    "Findings: each claim's effect (diamond) with its 95% interval (bar), in percentage points. The grey tick "
    "is the claim's threshold and the shaded side is what the claim asserts: an interval inside the shade "
    "points to the claim, outside against it. The verdict (colour, word on the right) comes from the "
    "Holm-corrected test over all claims, so an interval just inside the shade can still be inconclusive.")
THROUGHPUT_CAPTION = (
    "Accuracy against inference speed, one point per job (a job with variants shows its last, e.g. combined "
    "or fusion-svm): video hit@1 with its 95% interval against test videos per second over all views (log "
    "scale), coloured by family. Up and to the right is better. Speeds are wall-clock on the machine in the "
    "header and vary by tens of percent on a shared machine.")
CONFUSION_CAPTION = (
    "Confusion matrices of the {group} rows ({methods}), summed over splits and seeds. Each row is one true "
    "class normalised to 100%: cell (i, j) is the percentage of class-i test videos predicted as class j "
    "(blank below 5%). A perfect classifier is a dark diagonal; dark cells off it are the classes it confuses.")
PER_CLASS_CAPTION = (
    "Per-class accuracy (%) of every row: one line per table row, one column per class (the diagonal of each "
    "row-normalised confusion matrix). A dark column is a class most methods miss; a line dark on a pair "
    "of classes only is a method that cannot tell that pair apart.")
ABLATION_CAPTION = (
    "Dense-trajectory descriptor ablation: video hit@1 with 95% intervals of each descriptor alone (Traj, "
    "HOG, HOF, MBH) and of all combined, one bar colour per pipeline. Hatched bars are the published KTH "
    "accuracies († their data, not ours): they show the paper's ordering, not a number to match.")
BITS_CAPTION = (
    "Test bits per dimension of every generative row (lower is better) with its 95% bootstrap interval over "
    "test images. Blue: exact negative log-likelihood; orange: an upper bound (dequantised, -IWAE, -ELBO), "
    "so the model's true value is at or below the bar and a bound is not comparable like for like with an "
    "exact value.")
STABILITY_CAPTION = (
    "Training stability of the samplers (GAN losses on the same networks): one dot per training seed. Left: "
    "MMD² between the samples and the test images (lower is better; the dashed line is what as many training "
    "images score, the floor). Right: the share of realistic samples (no farther from the training set than "
    "95% of held-out images are; the CI gate's figure). A loss whose dots spread widely trains unstably.")
# a job's PNG artefact <method>-<suffix>.png -> (where the HTML shows it, section title, what it shows)
ARTEFACT_CAPTIONS = {
    "samples": ("samples", "Samples", "Samples drawn from each model, one image per tile (pixels enlarged, no "
                "smoothing). Blur, noise and broken strokes show here before they show in bits/dim."),
    "nearest-train": ("nearest", "Nearest training images", "Each line is one generated sample (left) followed by "
                      "its nearest and second-nearest training images (Euclidean distance in pixel space). A "
                      "sample identical to its neighbour is a copy of a training image; similar shapes alone "
                      "are not."),
    "interpolations": ("interpolations", "Latent interpolations", "Each line is one path between two random "
                       "latent codes (spherical interpolation), decoded at evenly spaced points. A generator that "
                       "memorises can only hop between training images; one that generalises passes through new "
                       "images. The table's 'path novelty' is the paths' median nearest-training distance over "
                       "held-out images' (about 1: as new as held-out images; 0: training images only) and 'path "
                       "jump' the largest step over the path's length (1/(steps-1) for even change, 1 for a jump)."),
    "arithmetic": ("arithmetic", "Latent arithmetic", "Each line: decoded codes a, b, c, then a - b + c (Radford et "
                   "al. 2016). For a VAE, a, b and c are the encoder means of three test images; a GAN has no "
                   "encoder, so its codes are random draws. Without labels this shows what the arithmetic does, "
                   "not a semantic attribute transfer."),
    "reconstructions": ("reconstructions", "Reconstructions", "Test images (top line) and the model's "
                        "reconstructions of them (bottom line); a blurry or wrong bottom line is a weak encoder "
                        "or decoder."),
}


def group_colours(groups) -> dict[str, str]:
    """One colour per family, the same in every figure: the known families first, in ``GROUP_ORDER``."""
    names = list(GROUP_ORDER) + sorted({g for g in groups if g not in GROUP_ORDER})
    return plotting.colours(names)


def fig_accuracy(numeric: pd.DataFrame, n_classes: int = 0) -> bytes:
    """Each row's video hit@1 with its interval, rows grouped by family (``numeric['group']``)."""
    rows = numeric[numeric["video_hit1"].notna()]
    several = rows["dataset"].nunique() > 1
    groups: dict[str, list[plotting.Row]] = {}
    for r in rows.itertuples():
        label = f"{r.dataset}: {r.method}" if several else r.method
        low, high = (float(v) if v is not None and pd.notna(v) else np.nan
                     for v in (r.video_hit1_low, r.video_hit1_high))
        groups.setdefault(r.group, []).append(plotting.Row(label, 100 * r.video_hit1, 100 * low, 100 * high))
    reference = 100 / n_classes if n_classes else None
    fig = plotting.interval_rows(groups, "video hit@1 (%), 95% bootstrap interval", reference,
                                f"chance ({reference:.0f}%)" if reference else "", xlim=(-2, 102),
                                palette=group_colours(groups))
    return plotting.to_png(fig)


_EFFECT = re.compile(r"([+-]?\d+(?:\.\d+)?) \[([+-]?\d+(?:\.\d+)?), ([+-]?\d+(?:\.\d+)?)\]")


def findings_rows(table: pd.DataFrame, claims) -> list[plotting.Claim]:
    """The Findings table as forest-plot rows (effects in points, as ``findings.evaluate`` prints them)."""
    by_text = {c.text: c for c in claims}
    rows = []
    for text, effect, verdict in zip(table["claim"], table["effect [95% CI]"], table["verdict"]):
        claim = by_text[text]
        match = _EFFECT.search(str(effect))
        estimate, low, high = map(float, match.groups()) if match else (np.nan, np.nan, np.nan)
        rows.append(plotting.Claim(text, estimate, low, high, 100 * claim.threshold, claim.direction, str(verdict)))
    return rows


def fig_findings(table: pd.DataFrame, claims) -> bytes:
    rows = findings_rows(table, claims)
    fig = plotting.forest(rows, "effect (percentage points): row A minus row B, or minus chance")
    return plotting.to_png(fig)


def fig_throughput(numeric: pd.DataFrame) -> bytes:
    return plotting.to_png(throughput_figure(numeric))


def throughput_figure(numeric: pd.DataFrame):
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=(plotting.WIDTH * 0.8, 5.5))
    # One point per job (its variants share one timing): the last variant, e.g. "combined", "fusion-svm".
    rows = numeric[numeric["infer_videos_per_s"] > 0]
    rows = rows.assign(job=rows["method"].str.split("/").str[0]).drop_duplicates(["dataset", "job"], keep="last")
    palette = group_colours(rows["group"])
    points = []
    for group in [g for g in palette if (rows["group"] == g).any()]:
        part = rows[rows["group"] == group]
        low = (part["video_hit1"] - part["video_hit1_low"].astype(float)).clip(lower=0).fillna(0)
        high = (part["video_hit1_high"].astype(float) - part["video_hit1"]).clip(lower=0).fillna(0)
        ax.errorbar(part["infer_videos_per_s"], 100 * part["video_hit1"], yerr=100 * np.vstack([low, high]),
                    fmt="o", ms=5, capsize=3, color=palette[group], label=group)
        points += [(r.infer_videos_per_s, 100 * r.video_hit1, r.method, palette[group]) for r in part.itertuples()]
    ax.set_xscale("log")
    low, high = rows["infer_videos_per_s"].min(), rows["infer_videos_per_s"].max()
    ax.set_xlim(low / 1.6, high * 2.2)   # room on the right for the labels of the fastest points
    ticks = plotting.nice_log_ticks(low / 1.6, high * 2.2)
    ax.xaxis.set_major_locator(plt.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: plotting.plain_number(v)))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_ylim(-3, 103)
    ax.set_xlabel("inference throughput (test videos/s, all views; log scale)", fontsize=plotting.LABEL_SIZE + 1)
    ax.set_ylabel("video hit@1 (%), 95% interval", fontsize=plotting.LABEL_SIZE + 1)
    ax.tick_params(labelsize=plotting.LABEL_SIZE)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=plotting.LABEL_SIZE, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(palette),
              frameon=False)
    plotting.place_labels(ax, [p[0] for p in points], [p[1] for p in points], [p[2] for p in points],
                         fontsize=8, colours=[p[3] for p in points])
    return fig


def fig_confusions(confusions: dict[str, np.ndarray], classes: dict[int, str]) -> bytes:
    """One panel per row (two a line), each large enough to read its class names and cell percentages."""
    plt = plotting.pyplot()
    n = len(confusions)
    cols = min(n, 2)
    lines = math.ceil(n / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(5.4 * cols, 5.2 * lines), squeeze=False, layout="constrained")
    for ax, (method, matrix) in zip(axes.flat, confusions.items()):
        plotting.confusion_panel(ax, matrix, [classes.get(i, str(i)) for i in range(len(matrix))], method)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return plotting.to_png(fig)


def fig_per_class(confusions: dict[str, np.ndarray], classes: dict[int, str]) -> bytes:
    return plotting.to_png(per_class_figure(confusions, classes))


def per_class_figure(confusions: dict[str, np.ndarray], classes: dict[int, str]):
    plt = plotting.pyplot()
    methods = list(confusions)
    n = max(len(m) for m in confusions.values())
    table = np.full((len(methods), n), np.nan)
    for i, m in enumerate(methods):
        matrix = confusions[m]
        totals = matrix.sum(axis=1)
        table[i, : len(matrix)] = np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)
    size = (max(6.0, 2.5 + 0.5 * n), max(3.0, 1.5 + 0.28 * len(methods)))
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    image = ax.imshow(100 * table, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    labelled = n <= 40
    ax.set_xticks(range(n) if labelled else [], [classes.get(i, str(i)) for i in range(n)] if labelled else [],
                  rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    ax.set_yticks(range(len(methods)), methods, fontsize=8)
    ax.set_xlabel("class" if labelled else f"class (1-{n})", fontsize=plotting.LABEL_SIZE)
    bar = fig.colorbar(image, ax=ax, shrink=min(1.0, 6 / max(size[1], 1)))
    bar.set_label("accuracy (%)", fontsize=plotting.LABEL_SIZE)
    bar.ax.tick_params(labelsize=8)
    return fig


def fig_ablation(intervals: dict[str, stats.Interval | None], published: pd.DataFrame, variants) -> bytes:
    plt = plotting.pyplot()
    pipelines = sorted({m.split("/")[0] for m in intervals})
    fig, ax = plt.subplots(figsize=(plotting.WIDTH * 0.7, 4.6))
    width = 0.8 / (len(pipelines) + 1)
    x = np.arange(len(variants))
    for k, pipeline in enumerate(pipelines):
        values, errors = [], [[], []]
        for variant in variants:
            ci = intervals.get(f"{pipeline}/{variant}")
            values.append(100 * ci.estimate if ci else np.nan)
            errors[0].append(100 * (ci.estimate - ci.low) if ci and np.isfinite(ci.low) else 0)
            errors[1].append(100 * (ci.high - ci.estimate) if ci and np.isfinite(ci.high) else 0)
        ax.bar(x + k * width, values, width, yerr=errors, capsize=3, label=f"{pipeline} (ours)")
    paper = published[published["ours"].str.startswith("dt-bow-svm/")]
    if not paper.empty:
        by_variant = {r.ours.split("/")[1]: float(r.value) for r in paper.itertuples()}
        ax.bar(x + len(pipelines) * width, [by_variant.get(v, np.nan) for v in variants], width, fill=False,
               hatch="//", label=f"† paper: {paper.iloc[0]['source']}, {paper.iloc[0]['dataset']} (their data)")
    ax.set_xticks(x + width * len(pipelines) / 2, [v if v == "combined" else v.upper() if v != "traj" else "Traj"
                                                   for v in variants], fontsize=plotting.LABEL_SIZE)
    ax.set_ylabel("video hit@1 / accuracy (%)", fontsize=plotting.LABEL_SIZE + 1)
    ax.set_ylim(0, 100)
    ax.tick_params(axis="y", labelsize=plotting.LABEL_SIZE)
    ax.legend(fontsize=plotting.LABEL_SIZE - 1, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    return plotting.to_png(fig)


def fig_bits_per_dim(numeric: pd.DataFrame) -> bytes:
    plt = plotting.pyplot()
    from matplotlib.patches import Patch

    rows = numeric[numeric["bits_per_dim"].notna()].sort_values("bits_per_dim")
    several = rows["dataset"].nunique() > 1
    fig, ax = plt.subplots(figsize=(plotting.WIDTH * 0.75, 1.2 + 0.3 * len(rows)))
    labels = [f"{r.dataset}: " * several + f"{r.method} ({r.kind})" for r in rows.itertuples()]
    low = (rows["bits_per_dim"] - rows["bits_per_dim_low"].astype(float)).fillna(0).clip(lower=0)
    high = (rows["bits_per_dim_high"].astype(float) - rows["bits_per_dim"]).fillna(0).clip(lower=0)
    exact, bound = plotting.PALETTE[0], plotting.PALETTE[1]
    colours = [exact if k == "exact" else bound for k in rows["kind"]]
    ax.barh(labels, rows["bits_per_dim"], xerr=np.vstack([low, high]), color=colours, capsize=2)
    ax.invert_yaxis()
    ax.set_xlabel("test bits/dim (lower is better)", fontsize=plotting.LABEL_SIZE + 1)
    ax.tick_params(labelsize=plotting.LABEL_SIZE)
    ax.grid(axis="x", alpha=0.3)
    ax.legend([Patch(color=exact), Patch(color=bound)], ["exact NLL", "upper bound on the NLL"],
              fontsize=plotting.LABEL_SIZE, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    return plotting.to_png(fig)


def fig_sampler_stability(per_seed: pd.DataFrame) -> bytes:
    """``per_seed``: one row per (dataset, method, seed) with mmd2_test, mmd2_train_test, nn_realistic_frac."""
    plt = plotting.pyplot()
    datasets = list(dict.fromkeys(per_seed["dataset"]))
    methods = list(dict.fromkeys(per_seed["method"]))
    colour = plotting.colours(methods)
    fig, axes = plt.subplots(len(datasets), 2, squeeze=False,
                             figsize=(plotting.WIDTH * 0.8, 0.8 + (0.4 * len(methods) + 0.6) * len(datasets)))
    for (ax_mmd, ax_real), dataset in zip(axes, datasets):
        rows = per_seed[per_seed["dataset"] == dataset]
        for y, method in enumerate(methods):
            mine = rows[rows["method"] == method]
            jitter = np.linspace(-0.15, 0.15, len(mine)) if len(mine) > 1 else np.zeros(len(mine))
            for ax, column in ((ax_mmd, "mmd2_test"), (ax_real, "nn_realistic_frac")):
                ax.scatter(mine[column].astype(float), y + jitter, color=colour[method], s=18)
        ax_mmd.axvline(float(rows["mmd2_train_test"].astype(float).median()), color="grey", ls="--", lw=1)
        for ax, label in ((ax_mmd, f"{dataset}: MMD² to test (lower is better)"),
                          (ax_real, f"{dataset}: realistic share (higher is better)")):
            ax.set_yticks(range(len(methods)), methods if ax is ax_mmd else [""] * len(methods),
                          fontsize=plotting.LABEL_SIZE)
            ax.set_ylim(len(methods) - 0.5, -0.5)
            ax.set_xlabel(label, fontsize=plotting.LABEL_SIZE)
            ax.tick_params(axis="x", labelsize=plotting.LABEL_SIZE)
            ax.grid(axis="x", alpha=0.3)
        ax_real.set_xlim(-0.03, 1.03)
    fig.tight_layout()
    return plotting.to_png(fig)


def artefact_caption(name: str) -> tuple[str, str]:
    """(caption, placement) of a job's PNG artefact, from its file name ``<method>-<suffix>``."""
    for suffix, (where, _, text) in ARTEFACT_CAPTIONS.items():
        if name.endswith(f"-{suffix}"):
            return f"{name[: -len(suffix) - 1]}: {text}", where
    return f"{name}: a figure the job wrote.", "figures"
