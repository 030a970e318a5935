"""``bench report``: tables and figures of each suite, from the results store alone (nothing recomputed
but bootstrap intervals over the stored per-item predictions).

Per suite it writes ``<suite>.md``, ``<suite>.csv``, ``<suite>.tex`` (booktabs) and a self-contained
``<suite>.html`` (``benchmark.reports.html``: figures embedded as base64 PNG, a sortable table); the PNGs
also go to ``figures/`` for the Markdown. Every figure carries a caption saying what it shows and how
to read it.
Published numbers sit in their own "paper" column, always with their dataset and citation: they come
from other data and other hardware and never stand in for ours.
"""
from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.analysis import stats
from benchmark.analysis.check import collect, predictions
from benchmark.audits import planted_copies
from benchmark.studies import label_efficiency
from benchmark.common.cache import atomic_write_bytes
from benchmark.pipeline import protocol
from benchmark.registry import AUDITS, STUDIES
from benchmark.reports import html as report_html
from benchmark.reports.figures import (ABLATION_CAPTION, ACCURACY_CAPTION, BITS_CAPTION, CONFUSION_CAPTION,
                                      FINDINGS_CAPTION, PER_CLASS_CAPTION, STABILITY_CAPTION, THROUGHPUT_CAPTION,
                                      artefact_caption, fig_ablation, fig_accuracy, fig_bits_per_dim,
                                      fig_confusions, fig_findings, fig_per_class, fig_sampler_stability,
                                      fig_throughput)

SUITES = ("video", "generative")
PAPER_METRICS = {"video_hit@1": "video hit@1", "clip_hit@1": "clip hit@1", "video_hit@5": "hit@5",
                 "accuracy": "accuracy", "nll_nats": "nats", "bits_per_dim": "bits/dim"}
DT_VARIANTS = ("traj", "hog", "hof", "mbh", "combined")
STREAM_MODALITY = {"two-stream/spatial": "rgb", "two-stream/temporal": "flow"}   # rows narrower than their job
N_BOOT = 1000
# The figures group video rows by architecture; the registry's family only says classical or deep.
VIDEO_GROUPS = {"feature-histograms": "classical", "dt-bow-svm": "classical", "dt-fv-svm": "classical",
                "idt-bow-svm": "classical", "single-frame": "frame CNNs", "early-fusion": "frame CNNs",
                "late-fusion": "frame CNNs", "slow-fusion": "frame CNNs", "c3d": "3-D CNN",
                "two-stream": "two-stream", "lrcn": "recurrent", "gru-rcn": "recurrent",
                "conv-pooling": "feature pooling", "late-pooling": "feature pooling",
                "slow-pooling": "feature pooling"}
CONFUSIONS_PER_FIGURE = 4     # more rows in a group: one per job (its last variant, e.g. "combined")


@dataclass
class Section:
    """One suite's report: the display table, the numeric table (CSV), figures and notes."""

    suite: str
    display: pd.DataFrame
    numeric: pd.DataFrame
    figures: dict[str, bytes] = field(default_factory=dict)        # name -> PNG
    captions: dict[str, str] = field(default_factory=dict)         # name -> what it shows, how to read it
    placement: dict[str, str] = field(default_factory=dict)        # name -> "top", "figures", "samples", ...
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    findings: pd.DataFrame | None = None                           # computed claims (video suite)
    findings_note: str = ""

    def add_figure(self, name: str, png: bytes, caption: str, where: str = "figures") -> None:
        self.figures[name], self.captions[name], self.placement[name] = png, caption, where


def split_rows(frame):
    """(model rows, planted-copy audit rows, study rows) of a results frame."""
    base = frame["method"].astype(str).str.split("/").str[0]
    is_audit, is_study = base.isin(AUDITS), base.isin(STUDIES)
    return frame[~is_audit & ~is_study], frame[is_audit], frame[is_study]


# --- published numbers ----------------------------------------------------------------------------
def load_published() -> pd.DataFrame:
    with resources.files("benchmark.reports").joinpath("published.csv").open() as handle:
        return pd.DataFrame(list(csv.DictReader(handle)))


def paper_text(published: pd.DataFrame, method: str) -> str:
    rows = published[published["ours"] == method]
    if rows.empty:
        return ""
    parts = []
    for (source, table, dataset, name), group in rows.groupby(["source", "table", "dataset", "method"], sort=False):
        values = ", ".join(f"{r.value} {PAPER_METRICS.get(r.metric, r.metric)}" for r in group.itertuples())
        first = group.iloc[0]
        pretrained = str(first.get("pretrained") or "")
        mark = f" [PRE-TRAINED: {pretrained}; ours trains from scratch]" if pretrained else ""
        note = f"; {first['note']}" if str(first.get("note") or "") else ""
        parts.append(f"† {values}: {name}, {dataset}, {first['protocol']}{note}{mark} ({source}, {table})")
    return "; ".join(parts)


# --- helpers --------------------------------------------------------------------------------------
def _registry_info(suite: str) -> dict[str, tuple[str, str, tuple]]:
    """method -> (family, modality, variants) of what is registered now; empty when the registry cannot load."""
    try:
        from benchmark.registry import methods_of

        return {name: (spec.family, spec.modality, tuple(getattr(spec, "variants", ()) or ()))
                for name, spec in methods_of(suite).items()}
    except Exception as exc:  # a report of old results must not need every method importable
        print(f"warning: the {suite} registry does not load ({type(exc).__name__}: {exc}); "
              f"the report leaves modality and family blank", file=sys.stderr)
        return {}


def _in_registry_order(frame: pd.DataFrame, registry: dict) -> pd.DataFrame:
    """Rows in the registry's order (classical before deep as the registry lists them), unknown ones last."""
    rank = {name: i for i, name in enumerate(registry)}

    def key(method: str) -> tuple:
        base, _, variant = method.partition("/")
        variants = registry.get(base, ("", "", ()))[2]
        return rank.get(base, len(rank)), base, variants.index(variant) if variant in variants else len(variants)

    key = frame["method"].map(key)
    return frame.assign(_key=key).sort_values("_key", kind="stable").drop(columns="_key")


def _class_names(items: list[str], labels: list[int]) -> dict[int, str]:
    names = {}
    for item, label in zip(items, labels):
        match = re.search(r"v_(.+?)_g\d+_c\d+", str(item))
        folder = str(item).split("/")[0] if "/" in str(item) else None
        names.setdefault(int(label), match.group(1) if match else folder or f"class {label}")
    return names


def _pct(interval: stats.Interval | None, point=None) -> str:
    if interval is None or not np.isfinite(interval.low):
        return "" if point is None or pd.isna(point) else f"{100 * point:.1f}"
    return f"{100 * interval.estimate:.1f} [{100 * interval.low:.1f}, {100 * interval.high:.1f}]"


def _num(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or pd.isna(value):
        return ""
    value = float(value)
    if abs(value) >= 1e9:
        return f"{value / 1e9:.{digits}g}G"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.{digits}g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.{digits}g}k"
    return f"{value:.{digits}g}"


def _mean(rows: pd.DataFrame, column: str):
    if column not in rows:
        return np.nan
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    return float(values.mean()) if len(values) else np.nan


def _counts(unscorable: int | None, tied: int | None) -> str:
    return "" if unscorable is None and tied is None else f"{unscorable or 0} / {tied or 0}"


def _total(rows: pd.DataFrame, column: str) -> int | None:
    """Sum of a per-job count over the jobs; None when no job recorded it (results of an older bench)."""
    if column not in rows:
        return None
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    return int(values.sum()) if len(values) else None


def _first(rows: pd.DataFrame, column: str):
    if column not in rows:
        return None
    values = rows[column].dropna()
    return values.iloc[0] if len(values) else None


def _pooled(rows: pd.DataFrame, statistic) -> stats.Interval | None:
    """Bootstrap a per-job statistic of the predictions and average it over the jobs (splits x seeds).

    Jobs of one split share their group resamples (same seed), so seeds of a split are paired; each
    replicate also redraws the seeds of every split (``stats.pooled_over_runs``), so seed-to-seed
    variance is in the interval whenever the run has more than one seed."""
    estimates, replicates = {}, {}
    for _, row in rows.iterrows():
        preds = predictions(row["out_dir"], row["job_key"], row.get("variant") or "")
        if preds.empty:
            return None
        value = statistic(preds)
        if value is None:
            return None
        key = (int(row["split"]), int(row["seed"]))
        estimates[key], replicates[key] = stats.bootstrap_replicates(
            value, preds["group"].astype(str).to_numpy(), N_BOOT, seed=int(row["split"]))
    if not estimates:
        return None
    return stats.percentile_interval(*stats.pooled_over_runs(replicates, estimates, N_BOOT))


def _hit1(preds):
    correct = (preds["pred"].to_numpy() == preds["label"].to_numpy()).astype(float)
    return lambda idx: correct[idx].mean()


def _hit5(preds):
    if "scores" not in preds or not all(isinstance(s, list) and s for s in preds["scores"]):
        return None
    scores = np.array(preds["scores"].tolist(), dtype=float)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    hits = (top == preds["label"].to_numpy()[:, None]).any(axis=1).astype(float)
    return lambda idx: hits[idx].mean()


def _mean_class(preds):
    pred, labels = preds["pred"].to_numpy(), preds["label"].to_numpy()
    return lambda idx: float(np.mean([np.mean(pred[idx][labels[idx] == c] == c) for c in np.unique(labels[idx])]))


def _mean_nll(preds):
    if "nll_nats" not in preds:
        return None
    nll = preds["nll_nats"].to_numpy(dtype=float)
    return lambda idx: nll[idx].mean()


# --- video ----------------------------------------------------------------------------------------
def video_section(frame: pd.DataFrame, published: pd.DataFrame) -> Section:
    info = _registry_info("video")
    done = _in_registry_order(frame[frame["status"] == "done"], info)
    display, numeric, intervals, confusions, classes = [], [], {}, {}, {}
    conventions: list[str] = []
    unscorable_notes: list[str] = []
    for (dataset, method), rows in done.groupby(["dataset", "method"], sort=False):
        base = method.split("/")[0]
        family, modality, _ = info.get(base, ("", "", ()))
        modality = STREAM_MODALITY.get(method, modality)
        hit1, hit5, mca = _pooled(rows, _hit1), _pooled(rows, _hit5), _pooled(rows, _mean_class)
        intervals[method] = hit1
        matrices = [np.array(m) for m in rows.get("confusion", pd.Series(dtype=object)) if isinstance(m, list)]
        if matrices and len({m.shape for m in matrices}) == 1:
            confusions[method] = sum(matrices)
            preds = predictions(rows.iloc[0]["out_dir"], rows.iloc[0]["job_key"], rows.iloc[0].get("variant") or "")
            if not preds.empty:
                classes.update(_class_names(preds["item"].tolist(), preds["label"].tolist()))
        convention = _first(rows, "cost_flops_convention")
        if convention and convention not in conventions:
            conventions.append(convention)
        flops, views = _first(rows, "cost_flops_per_view"), _first(rows, "cost_views")
        flops_text = ""
        if flops is not None:
            flops_text = f"{_num(flops)} × {int(views) if views is not None else '?'}"
            flops_text += f" ({conventions.index(convention) + 1})" if convention else ""
        record = {"dataset": dataset, "method": method, "family": family, "group": video_group(method, family),
                  "modality": modality,
                  "runs": len(rows), "videos_per_run": _mean(rows, "n_videos"),
                  "clip_hit1": _mean(rows, "clip_hit1"), "video_hit1": _mean(rows, "video_hit1"),
                  "video_hit5": _mean(rows, "video_hit5"), "mean_class_acc": _mean(rows, "mean_class_acc"),
                  "params": _first(rows, "cost_params"), "flops_per_view": flops, "views": views,
                  "flops_convention": convention, "train_clips_per_s": _mean(rows, "train_clips_per_s"),
                  "infer_clips_per_s": _mean(rows, "infer_clips_per_s"),
                  "infer_videos_per_s": _mean(rows, "infer_videos_per_s"), "device": _first(rows, "device_name"),
                  "n_unscorable": _total(rows, "n_unscorable"), "n_tied_top": _total(rows, "n_tied_top"),
                  "settings_chosen_on": _first(rows, "settings_chosen_on"), "paper": paper_text(published, method)}
        for name, ci in (("video_hit1", hit1), ("video_hit5", hit5), ("mean_class_acc", mca)):
            record[f"{name}_low"], record[f"{name}_high"] = (ci.low, ci.high) if ci else (None, None)
        numeric.append(record)
        display.append({"method": method, "family": record["group"], "modality": modality,
                        "clip hit@1": _pct(None, record["clip_hit1"]),
                        "video hit@1": _pct(hit1, record["video_hit1"]), "hit@5": _pct(hit5, record["video_hit5"]),
                        "mean class acc": _pct(mca, record["mean_class_acc"]), "params": _num(record["params"]),
                        "FLOPs/view × views": flops_text, "train clips/s": _num(record["train_clips_per_s"]),
                        "infer clips/s": _num(record["infer_clips_per_s"]), "device": record["device"] or "",
                        "unscorable / tied": _counts(record["n_unscorable"], record["n_tied_top"]),
                        "settings chosen on": record["settings_chosen_on"] or "",
                        "paper (their data, not ours)": record["paper"]})
        if record["n_unscorable"] or record["n_tied_top"]:
            unscorable_notes.append(f"{method}: {record['n_unscorable'] or 0} test video(s) it could not score "
                                    f"(uniform scores) and {record['n_tied_top'] or 0} with a tied top score, "
                                    f"over {len(rows)} run(s); their hit@1 comes from tie-breaking")
    numeric_frame = pd.DataFrame(numeric)
    section = Section("video", pd.DataFrame(display), numeric_frame)
    protocol.annotate_video_section(section, done)
    if len(done["dataset"].unique()) > 1:
        section.display.insert(0, "dataset", numeric_frame["dataset"])
    section.notes += [f"({i + 1}) FLOPs convention: {c}" for i, c in enumerate(conventions)]
    section.notes += unscorable_notes
    if len(done) and done.groupby(["dataset", "method", "split"])["seed"].nunique().max() == 1:
        section.notes.append(ONE_SEED_NOTE)
    pairs = [c for c in done.columns if c.startswith("pair_acc_")]
    if pairs:
        table = (100 * done.groupby("method", sort=False)[pairs].mean()).round(1).reset_index()
        section.extra_tables["Class pairs one frame cannot separate (pair accuracy %, 50 = chance; point values)"] = \
            table.rename(columns={c: c[len("pair_acc_"):] for c in pairs})
    n_classes = max((len(m) for m in confusions.values()), default=0)
    if numeric_frame.get("video_hit1", pd.Series(dtype=float)).notna().any():
        section.add_figure("accuracy-by-family", fig_accuracy(numeric_frame, n_classes), ACCURACY_CAPTION, "top")
    _add_findings(done, section)
    if not numeric_frame.empty and (numeric_frame["infer_videos_per_s"] > 0).any():
        section.add_figure("accuracy-vs-throughput", fig_throughput(numeric_frame), THROUGHPUT_CAPTION)
    groups = dict(zip(numeric_frame.get("method", []), numeric_frame.get("group", [])))
    for group, members in _confusion_groups(confusions, groups).items():
        section.add_figure(f"confusion {group}", fig_confusions(members, classes),
                           CONFUSION_CAPTION.format(group=group, methods=", ".join(members)))
    if confusions:
        section.add_figure("per-class-accuracy", fig_per_class(confusions, classes), PER_CLASS_CAPTION)
    ablation = {m: intervals[m] for m in intervals if m.split("/")[-1] in DT_VARIANTS and "/" in m}
    if ablation:
        section.add_figure("dt-descriptor-ablation", fig_ablation(ablation, published, DT_VARIANTS), ABLATION_CAPTION)
    _failed_note(frame, section)
    return section


def video_group(method: str, family: str = "") -> str:
    """The architecture group a row is shown in (``VIDEO_GROUPS``; else the registry's family)."""
    return VIDEO_GROUPS.get(method.split("/")[0]) or family or "other"


def _confusion_groups(confusions: dict[str, np.ndarray], groups: dict[str, str]) -> dict[str, dict]:
    """Confusion matrices by group; a group of many rows keeps one per job (its last variant)."""
    by_group: dict[str, dict[str, np.ndarray]] = {}
    for method, matrix in confusions.items():
        by_group.setdefault(groups.get(method) or video_group(method), {})[method] = matrix
    for group, members in by_group.items():
        if len(members) > CONFUSIONS_PER_FIGURE:
            last = {m.split("/")[0]: m for m in members}
            by_group[group] = {m: members[m] for m in last.values()}
    return by_group


def _add_findings(done: pd.DataFrame, section: Section) -> None:
    """The Findings table, from the per-video predictions of one dataset (the embedded one if present)."""
    from benchmark.analysis import findings
    from benchmark.data import synthetic

    datasets = done["dataset"].unique().tolist()
    if not datasets:
        return
    dataset = "synthetic-actions" if "synthetic-actions" in datasets else datasets[0]
    rows = done[done["dataset"] == dataset]
    pair_classes = {}
    if dataset == "synthetic-actions":
        index = {c.name: i for i, c in enumerate(synthetic.CLASSES)}
        pair_classes = {name: (index[a], index[b]) for name, (a, b) in synthetic.PAIRS.items()}
    preds = {}
    for method, part in rows.groupby("method", sort=False):
        frames = []
        for _, row in part.iterrows():
            p = predictions(row["out_dir"], row["job_key"], row.get("variant") or "")
            if p.empty:
                frames = []
                break
            frames.append(p.assign(key=[f"{row['split']}|{row['seed']}|{i}" for i in p["item"]],
                                   group=[f"{row['split']}|{g}" for g in p["group"]]))
        if frames:
            preds[method] = pd.concat(frames, ignore_index=True)
    section.findings = findings.evaluate(findings.CLAIMS, preds, pair_classes)
    splits = sorted(rows["split"].unique().tolist())
    seeds = sorted(rows["seed"].unique().tolist())
    section.findings_note = (f"{dataset}, split(s) {', '.join(map(str, splits))}, seed(s) "
                             f"{', '.join(map(str, seeds))}. " + findings.NOTE)
    if section.findings["effect [95% CI]"].astype(bool).any():   # a forest of untested claims shows nothing
        section.add_figure("findings", fig_findings(section.findings, findings.CLAIMS), FINDINGS_CAPTION, "top")


# --- generative -----------------------------------------------------------------------------------
NN_COLUMNS = {"nn_memorised_frac": "memorised", "nn_memorised_frac_test_ref": "memorised (test ref)",
              "nn_exact_copy_frac": "exact copies", "nn_gen_train_median_dist": "NN dist gen",
              "nn_test_train_median_dist": "NN dist test", "nn_mw_z": "MW z", "nn_ct": "C_T",
              "nn_realistic_frac": "realistic", "mmd2_test": "MMD² test",
              "latent_path_novelty": "path novelty", "latent_path_jump": "path jump"}
SAMPLER_COLUMNS = ("mmd2_test", "mmd2_train_test", "nn_realistic_frac")


FASHION_NOTE = ("Fashion-MNIST rows: the quick profile reads its 'quick-large' settings on 28x28 images (4,000 training "
                "images, small models, few epochs), so they are far from converged; no published Fashion-MNIST "
                "likelihood is listed in the paper column (none is in the project's checked source list), and "
                "published 8-bit Fashion-MNIST numbers use the full 60,000 training images and other models.")


CONTEXT_NOTE = ("'context seen': the share of the earlier pixels (raster order) whose value reaches the fitted "
                "autoregressive model's logits at the centre of the last row (deep/generative/common.py "
                "context_seen); below 1 for a blind spot (PixelCNN) or a receptive field shorter than the image.")


def generative_section(frame: pd.DataFrame, published: pd.DataFrame) -> Section:
    models, audits, studies = split_rows(frame)
    done = _in_registry_order(models[models["status"] == "done"], _registry_info("generative"))
    display, numeric, artefacts = [], [], {}
    for (dataset, method), rows in done.groupby(["dataset", "method"], sort=False):
        nll = _pooled(rows, _mean_nll) if pd.notna(_mean(rows, "nll_nats")) else None
        dims = _mean(rows, "dims")
        record = {"dataset": dataset, "method": method, "kind": _first(rows, "kind"), "runs": len(rows),
                  "nll_nats": _mean(rows, "nll_nats"), "nll_nats_low": nll.low if nll else None,
                  "nll_nats_high": nll.high if nll else None, "bits_per_dim": _mean(rows, "bits_per_dim"),
                  "gap_nats": _mean(rows, "gap_nats"), "params": _first(rows, "cost_params"),
                  "context_seen": _mean(rows, "cost_context_seen"),
                  "train_s": _mean(rows, "train_s"), "device": _first(rows, "device_name"),
                  "paper": paper_text(published, method)}
        scale = 1 / (dims * np.log(2)) if dims and np.isfinite(dims) else None
        record["bits_per_dim_low"] = nll.low * scale if nll and scale else None
        record["bits_per_dim_high"] = nll.high * scale if nll and scale else None
        record.update({c: _mean(rows, c) for c in NN_COLUMNS if c in rows})
        numeric.append(record)
        bpd = (f"{record['bits_per_dim']:.3f} [{record['bits_per_dim_low']:.3f}, {record['bits_per_dim_high']:.3f}]"
               if record["bits_per_dim_low"] is not None else _num(record["bits_per_dim"], 4))
        display.append({"method": method, "kind": record["kind"] or "",
                        "NLL nats": f"{nll.estimate:.2f} [{nll.low:.2f}, {nll.high:.2f}]" if nll
                        else _num(record["nll_nats"], 4), "bits/dim": bpd,
                        "test−train gap nats": _num(record["gap_nats"]),
                        **{label: _num(record.get(c)) for c, label in NN_COLUMNS.items() if c in rows},
                        "params": _num(record["params"]),
                        **({"context seen": _num(record["context_seen"])} if "cost_context_seen" in done else {}),
                        "train s": _num(record["train_s"]),
                        "device": record["device"] or "", "paper (their data, not ours)": record["paper"]})
        for _, row in rows.drop_duplicates("job_key").iterrows():
            for path in _artefact_paths(row):   # per job: variant rows of one job share its figures
                artefacts.setdefault(path.stem, path)
    section = Section("generative", pd.DataFrame(display), pd.DataFrame(numeric))
    if len(done["dataset"].unique()) > 1:
        section.display.insert(0, "dataset", section.numeric["dataset"])
    if done["dataset"].astype(str).str.startswith("fashion-mnist").any():
        section.notes.append(FASHION_NOTE)
    anchors = published[published["metric"].isin(["nll_nats", "bits_per_dim"])]
    section.extra_tables["Published anchors († the papers' numbers on their data: binarised MNIST, CIFAR-10)"] = \
        anchors[["method", "dataset", "metric", "value", "source", "table", "checked", "note"]].reset_index(drop=True)
    if "bits_per_dim" in section.numeric and section.numeric["bits_per_dim"].notna().any():
        section.add_figure("bits-per-dim", fig_bits_per_dim(section.numeric), BITS_CAPTION, "top")
    _add_stability(done, section)
    for name, path in artefacts.items():
        section.add_figure(name, path.read_bytes(), *artefact_caption(name))
    section.notes.append("bits/dim = nats / (D ln 2); 'kind' says whether the number is exact or a bound "
                         "(an upper bound on the NLL).")
    if "cost_context_seen" in done:
        section.notes.append(CONTEXT_NOTE)
    planted_copies.add_to_section(section, audits)
    label_efficiency.add_to_section(section, studies, predictions)
    _failed_note(frame, section)
    return section


def _add_stability(done: pd.DataFrame, section: Section) -> None:
    """The samplers' spread over training seeds: a figure and one note line per sampler and dataset."""
    modality = {name: info[1] for name, info in _registry_info("generative").items()}
    if not set(SAMPLER_COLUMNS) <= set(done.columns):
        return
    samplers = done[done["method"].map(modality).eq("sampler") & done["mmd2_test"].notna()]
    if samplers.empty:
        return
    section.add_figure("sampler-stability", fig_sampler_stability(samplers), STABILITY_CAPTION)
    for (dataset, method), rows in samplers.groupby(["dataset", "method"], sort=False):
        mmd = rows["mmd2_test"].astype(float)
        spread = f", sd {mmd.std(ddof=1):.4f}, range {mmd.min():.4f}-{mmd.max():.4f}" if len(rows) > 1 else \
            " (one seed: no spread measured)"
        section.notes.append(f"{dataset} {method}: MMD² to test over {len(rows)} seed(s): mean {mmd.mean():.4f}"
                             f"{spread}; training images score {rows['mmd2_train_test'].astype(float).mean():.4f}.")


def _artefact_paths(row) -> list[Path]:
    """The job's listed PNG artefacts, found where the job wrote them or under this run's artefacts/."""
    import json

    from benchmark.pipeline.store import Store

    store = Store(row["out_dir"], readonly=True)
    try:
        found = store.conn.execute("SELECT artefacts FROM jobs WHERE job_key=?", (row["job_key"],)).fetchone()
    finally:
        store.close()
    paths = []
    for listed in json.loads(found[0] or "[]") if found else []:
        listed = Path(listed)
        for candidate in (listed, Path(row["out_dir"]) / "artefacts" / row["job_key"] / listed.name):
            if candidate.suffix.lower() == ".png" and candidate.is_file():
                paths.append(candidate)
                break
    return paths


def _failed_note(frame: pd.DataFrame, section: Section) -> None:
    failed = frame[frame["status"] != "done"].drop_duplicates("job_key")
    for _, row in failed.iterrows():
        section.notes.append(f"FAILED: {row['method']} (split {row['split']}, seed {row['seed']}): {row['error']}")


# --- writers --------------------------------------------------------------------------------------
def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text; an empty (NaN/None) cell is an empty string (pandas 3 keeps NaN through astype(str))."""
    return frame.astype(object).map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))


def _markdown_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no rows)\n"
    cells = _cells(frame).map(lambda s: s.replace("|", "\\|").replace("\n", " "))
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "†": r"\dag{}", "×": r"$\times$",
        "−": "-"}


def _tex(text) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def latex_table(frame: pd.DataFrame, caption: str) -> str:
    lines = [r"% needs \usepackage{booktabs}", r"\begin{table}[t]", r"\centering\small",
             r"\begin{tabular}{" + "".join("p{5cm}" if c.startswith("paper") else "l" for c in frame.columns) + "}",
             r"\toprule",
             " & ".join(_tex(c) for c in frame.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex(v) for v in row) + r" \\" for row in _cells(frame).itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_tex(caption)}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def dirty_commits(frame: pd.DataFrame) -> list[str]:
    """Commits of the results that were not clean checkouts: such numbers cannot be traced to code."""
    commits = frame["commit"].dropna().astype(str).unique() if "commit" in frame else []
    return sorted(c for c in commits if c.endswith("+dirty") or c.startswith("unknown"))


def header_items(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """What the whole report shares, said once at its top: data, design, machine, device and provenance."""
    from benchmark.common.provenance import git_commit

    def listed(column: str, rows: pd.DataFrame = frame) -> str:
        values = rows[column].dropna().astype(str).unique() if column in rows else []
        return ", ".join(sorted(values, key=lambda v: (len(v), v))) or "not recorded"

    done = frame[frame["status"] == "done"] if "status" in frame else frame
    dirty = dirty_commits(frame)
    items = [("WARNING", "results made from uncommitted code (" + ", ".join(dirty) + "): not citable")] if dirty else []
    design = f"profile {listed('profile')}"
    if (frame["suite"] == "video").any():
        design += f"; split(s) {listed('split')}"
    design += f"; seed(s) {listed('seed')}; {frame['job_key'].nunique()} job(s)"
    items += [("datasets", listed("dataset")), ("design", design), ("machine", listed("machine")),
              ("device", listed("device_name", done)), ("runs", listed("out_dir")), ("commits", listed("commit")),
              ("finished", str(frame["finished"].dropna().max())), ("report written by commit", git_commit())]
    return items


def header_text(items: list[tuple[str, str]]) -> str:
    return "; ".join(f"{label}: {value}" for label, value in items)


COLLAPSIBLE = ("device", "splits", "settings chosen on")   # said once above the table when every row agrees


def collapse_shared(display: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """(the table without the ``COLLAPSIBLE`` columns whose cells are all equal, {column: that value});
    the device is left out of the dict: ``header_items`` names it."""
    shared = {}
    for column in COLLAPSIBLE:
        if column in display and len(display) and display[column].astype(str).nunique() == 1:
            shared[column] = str(display[column].iloc[0])
    return display.drop(columns=list(shared)), {k: v for k, v in shared.items() if v and k != "device"}


INTRO = {
    "video": "95% intervals: bootstrap over the test videos resampled by group (two-stage) within each split, "
             "with the seeds of each split redrawn (seed variance; none with one seed), averaged over splits. "
             "Clip hit@1 has no interval (clip predictions are not stored). Throughputs are wall-clock on the "
             "machine above and noisy on shared machines.",
    "generative": "NLL in nats per image with a 95% bootstrap interval over test images; bits/dim = nats / (D ln 2).",
}
ONE_SEED_NOTE = ("One training seed per split: the intervals above leave out how far a row moves between training "
                 "seeds (the seed variance of a trained model). `bench run --design confirm` runs "
                 "enough seeds to include it; `bench plan coverage --out DIR` measures it on a run with two or more.")
PAPER_NOTE = ("† Numbers in the 'paper' column are the published figures of the method this row re-implements, "
              "on the paper's data (Sports-1M, UCF101, KTH, binarised MNIST, CIFAR-10, ...) and hardware: "
              "they are not our results and not comparable number-for-number.")


def write_section(section: Section, header: list[tuple[str, str]], to: Path) -> list[Path]:
    figures_dir = to / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    name = section.suite
    for stale in figures_dir.glob(f"{name}-*.png"):   # figures of methods no longer in the run
        stale.unlink()
    files = {}
    for title, png in section.figures.items():
        path = figures_dir / f"{name}-{re.sub(r'[^A-Za-z0-9]+', '-', title).strip('-').lower()}.png"
        atomic_write_bytes(path, png)
        files[title] = path
    table, shared = collapse_shared(section.display)
    md = [f"# {name.capitalize()} suite\n", f"_{header_text(header)}_\n", INTRO[name] + "\n"]
    md += [f"Every row: {header_text(list(shared.items()))}.\n"] if shared else []
    md += [_markdown_table(table), *[f"- {n}" for n in section.notes], "", PAPER_NOTE + "\n"]
    if section.findings is not None:
        md += ["## Findings\n", section.findings_note + "\n", _markdown_table(section.findings)]
    for title, extra in section.extra_tables.items():
        md += [f"## {title}\n", _markdown_table(extra)]
    md += ["## Figures\n"] + [f"### {t}\n\n![{t}](figures/{p.name})\n\n{section.captions.get(t, '')}\n"
                              for t, p in files.items()]
    outputs = [to / f"{name}.md", to / f"{name}.csv", to / f"{name}.tex", to / f"{name}.html"]
    texts = ["\n".join(md), section.numeric.to_csv(index=False),
             latex_table(section.display, f"{name} suite. {PAPER_NOTE}"),
             report_html.page(section, header, table, shared, INTRO[name], PAPER_NOTE)]
    for path, text in zip(outputs, texts):   # everything rendered first; each file replaced whole
        atomic_write_bytes(path, text.encode())
    return outputs + list(files.values())


def default_reports_dir(out_dirs) -> Path:
    """Without ``--to`` reports go beside the (first) run's results, never over a checkout's reports/."""
    return Path(list(out_dirs)[0]) / "reports"


def write_reports(out_dirs, to: Path | None = None) -> list[Path]:
    """Regenerate every suite's report found in the given run directories; return the files written."""
    frame = collect(out_dirs)
    to = Path(to) if to is not None else default_reports_dir(out_dirs)
    if to.exists() and not to.is_dir():
        raise ValueError(f"--to {to} is an existing file; it must be a directory")
    if "evaluated_on" in frame:   # tuning runs (bench run --validation) never enter the reported tables
        tuning = frame["evaluated_on"] == "validation"
        if tuning.any():
            print(f"note: {int(tuning.sum())} validation (tuning) rows left out of the report", file=sys.stderr)
        frame = frame[~tuning]
        if frame.empty:
            raise ValueError("only validation (tuning) rows in these runs: nothing to report")
    published = load_published()
    written: list[Path] = []
    builders = {"video": video_section, "generative": generative_section}
    for suite in SUITES:
        rows = frame[frame["suite"] == suite]
        if rows.empty:
            continue
        dirty = dirty_commits(rows)
        if dirty:
            print(f"warning: the {suite} results were made from uncommitted code ({', '.join(dirty)}); "
                  f"the report says so at its top. Commit, rerun and report again before committing it.",
                  file=sys.stderr)
        written += write_section(builders[suite](rows, published), header_items(rows), Path(to))
    return written

