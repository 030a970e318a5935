"""Label efficiency: does pre-training without labels help, and most when labels are few?

Per trial (seed): an autoencoder and a VAE are pre-trained on every training image without labels
(``deep.generative.pretraining``); then, for each labelled fraction (1%, 10%, 100% of the training
images, a stratified draw per trial, at least one image per class), five classifiers of the same
encoder are trained on the labelled images alone and scored on every test image:
``scratch`` (random start), ``ae-probe`` / ``vae-probe`` (frozen code, logistic regression) and
``ae-finetune`` / ``vae-finetune`` (pre-trained start, every weight trained). One result row per
(classifier, fraction), e.g. ``label-efficiency/ae-finetune-1pct``, with the per-test-image predictions
of every trial, which the report, the Findings claims and ``bench check`` read.

Settings (``STUDY``) were chosen on the validation images (carved from the training part); see
``docs/generative.md``.

Intervals and claims pool the trials of every job (``--seeds`` adds jobs) as the video tables do
(``benchmark.analysis.stats.pooled_over_runs``): a bootstrap over test images, shared by the trials,
and each replicate redraws the trials, so the spread between label draws and initialisations is in the
interval. The claim "pre-training helps most when labels are few" is the difference in differences
(fine-tuned - scratch at 1%) - (fine-tuned - scratch at 100%) > 0, tested like the video Findings
(two one-sided bootstrap p-values, Holm over every claim in the report).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.analysis import stats
from benchmark.analysis.findings import ALPHA, holm, one_sided_ps
from benchmark.common.timing import PhaseTimer
from benchmark.pipeline.outcome import JobOutcome, RowResult
from deep.generative.pretraining import EncoderClassifier, EncoderParams, PretrainedEncoder, linear_probe

FRACTIONS = (0.01, 0.10, 1.0)
CLASSIFIERS = ("scratch", "ae-probe", "ae-finetune", "vae-probe", "vae-finetune")
STUDY_KIND = "study (label efficiency)"
N_BOOT = 4000


@dataclass(frozen=True)
class StudyParams:
    trials: int              # label draws and initialisations per job
    encoder: EncoderParams


STUDY = {
    "smoke": StudyParams(1, EncoderParams(channels=8, code=16, pretrain_epochs=2, finetune_steps=40)),
    # CI's gate: every row clearly above chance (10%) on 300 training digits, in seconds
    "ci": StudyParams(1, EncoderParams(channels=16, code=16, pretrain_epochs=20, finetune_steps=150)),
    # digits: fine-tuning steps chosen among 150 / 300 / 600 on the validation images (300: within a
    # point of 600 at 100% of the labels, at half the time); 3 trials (about 17 s each) keep the quick digits
    # suite within 5 minutes; `--seeds N` adds 3 trials per seed
    "quick": StudyParams(3, EncoderParams(channels=32, code=32, pretrain_epochs=30, finetune_steps=300)),
    # 28x28: 6 pre-training epochs (10 raised the probes by about 2 points on validation, at twice the time)
    "quick-large": StudyParams(2, EncoderParams(channels=16, code=32, pretrain_epochs=6, finetune_steps=200)),
    "paper": StudyParams(10, EncoderParams(channels=32, code=64, pretrain_epochs=50, finetune_steps=3000)),
}


def variant_name(classifier: str, fraction: float) -> str:
    return f"{classifier}-{fraction * 100:g}pct"


VARIANTS = tuple(variant_name(c, f) for f in FRACTIONS for c in CLASSIFIERS)


def labelled_subset(labels: np.ndarray, fraction: float, seed) -> np.ndarray:
    """Sorted indices of ``fraction`` of each class's images (rounded, at least one), drawn with ``seed``;
    every index at 1.0."""
    if fraction >= 1:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        picked.append(rng.choice(members, max(1, round(fraction * len(members))), replace=False))
    return np.sort(np.concatenate(picked))


def run_trial(data, params: EncoderParams, seed, device: str = "cpu", *, evaluate_on: str = "test",
              fractions=FRACTIONS) -> dict[str, tuple[int, np.ndarray]]:
    """variant -> (number of labels, predictions on the ``evaluate_on`` images) for one trial."""
    if data.train_labels is None:
        raise ValueError(f"{data.name}: the label-efficiency study needs class labels; this dataset has none")
    images = getattr(data, evaluate_on)
    seed_int = int(np.random.default_rng(seed).integers(2 ** 31))
    encoders = {kind: PretrainedEncoder(kind, params, seed=seed_int, device=device).fit(data.train, data.levels)
                for kind in ("ae", "vae")}
    out = {}
    for fraction in fractions:
        idx = labelled_subset(data.train_labels, fraction, [*np.atleast_1d(seed), int(fraction * 1000)])
        x, y = data.train[idx], data.train_labels[idx]
        fitted = {"scratch": EncoderClassifier(params, seed=seed_int, device=device).fit(x, y, data.levels)}
        for kind, encoder in encoders.items():
            fitted[f"{kind}-probe"] = linear_probe(encoder, params).fit(x, y)
            fitted[f"{kind}-finetune"] = EncoderClassifier(params, encoder, seed=seed_int, device=device).fit(
                x, y, data.levels)
        out.update({variant_name(name, fraction): (len(idx), model.predict(images)) for name, model in fitted.items()})
    return out


class LabelEfficiencyStudy:
    """The generative suite's label-efficiency job (a study, not a model)."""

    def __init__(self, params: StudyParams, *, seed: int = 0, device: str = "cpu"):
        self.params, self.seed, self.device = params, seed, device

    def run(self, data, timer: PhaseTimer, artefact_dir: str | None = None) -> JobOutcome:
        trials = []
        with timer.phase("train"):
            for trial in range(self.params.trials):
                trials.append(run_trial(data, self.params.encoder, [self.seed, trial], self.device))
        rows = []
        for variant in VARIANTS:
            correct = np.stack([pred == data.test_labels for _, pred in (t[variant] for t in trials)])
            metrics = {"dataset": data.name, "kind": STUDY_KIND, "levels": data.levels, "n_train": len(data.train),
                       "n_test": len(data.test), "n_labels": trials[0][variant][0], "trials": len(trials),
                       "accuracy": float(correct.mean()),
                       "accuracy_trial_sd": float(correct.mean(1).std(ddof=1)) if len(trials) > 1 else None}
            predictions = [{"item": f"{t}/test/{i}", "group": f"test/{i}", "trial": t,
                            "label": int(data.test_labels[i]), "pred": int(trials[t][variant][1][i])}
                           for t in range(len(trials)) for i in range(len(data.test))]
            rows.append(RowResult(variant, metrics, predictions))
        return JobOutcome(rows=rows, timings=timer.as_dict(), costs={})


# --- intervals, claims and the report section ------------------------------------------------------
@dataclass(frozen=True)
class StudyClaim:
    """d > 0, with d = (a - b at 1% of the labels) - (a - b at 100%), or a - b at 1% alone."""

    text: str
    a: str
    b: str
    across_fractions: bool = True
    direction: str = ">"          # read by findings.one_sided_ps
    threshold: float = 0.0


CLAIMS = (
    StudyClaim("AE pre-training helps more with 1% of the labels than with all of them (fine-tuned vs scratch)",
               "ae-finetune", "scratch"),
    StudyClaim("VAE pre-training helps more with 1% of the labels than with all of them (fine-tuned vs scratch)",
               "vae-finetune", "scratch"),
    StudyClaim("with 1% of the labels, a linear probe on the AE code beats training from scratch", "ae-probe",
               "scratch", across_fractions=False),
)
FEW, ALL = FRACTIONS[0], FRACTIONS[-1]


def correctness(preds: pd.DataFrame) -> pd.DataFrame:
    """Per (job seed, trial, test image): 1.0 right, 0.0 wrong; columns are the variants.
    ``preds``: the stored predictions with ``seed`` and ``variant`` columns added."""
    preds = preds.assign(correct=(preds["pred"] == preds["label"]).astype(float),
                         image=preds["item"].str.split("/", n=1).str[1])
    return preds.pivot_table(index=["seed", "trial", "image"], columns="variant", values="correct")


def _pooled(values: pd.Series, n_boot: int, seed: int) -> tuple[float, np.ndarray]:
    """(estimate, replicates) of a per-image mean averaged over the runs (seed, trial): the same image
    resamples for every run, then the runs redrawn per replicate."""
    estimates, replicates = {}, {}
    for (job_seed, trial), part in values.groupby(level=[0, 1], sort=True):
        v = part.sort_index().to_numpy()
        key = (0, int(job_seed) * 1000 + int(trial))
        estimates[key], replicates[key] = stats.bootstrap_replicates(
            lambda idx: float(v[idx].mean()), np.arange(len(v)), n_boot, seed=seed, two_stage=False)
    return stats.pooled_over_runs(replicates, estimates, n_boot, seed)


def accuracy_table(table: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """One row per (classifier, fraction): accuracy and its 95% interval over images and trials."""
    records = []
    for classifier in CLASSIFIERS:
        for fraction in FRACTIONS:
            variant = variant_name(classifier, fraction)
            if variant not in table:
                continue
            estimate, reps = _pooled(table[variant].dropna(), n_boot, seed)
            ci = stats.percentile_interval(estimate, reps)
            records.append({"classifier": classifier, "fraction": fraction, "accuracy": estimate,
                            "low": ci.low, "high": ci.high,
                            "runs": table[variant].dropna().groupby(level=[0, 1]).ngroups})
    return pd.DataFrame(records)


def evaluate_claims(tables: dict[str, pd.DataFrame], n_boot: int = N_BOOT, seed: int = 0,
                    alpha: float = ALPHA) -> pd.DataFrame:
    """The claims on each dataset's correctness table, Holm-corrected together."""
    records, tested = [], []
    for dataset, table in tables.items():
        for claim in CLAIMS:
            record = {"claim": f"{dataset}: {claim.text}", "measure": _measure(claim), "effect [95% CI]": "",
                      "runs x test images": "", "p (Holm)": "", "verdict": ""}
            records.append(record)
            needed = [variant_name(c, f) for c in (claim.a, claim.b) for f in ((FEW, ALL) if claim.across_fractions
                                                                               else (FEW,))]
            missing = [v for v in needed if v not in table]
            if missing:
                record["verdict"] = f"not tested ({', '.join(missing)} not in the run)"
                continue
            few = table[variant_name(claim.a, FEW)] - table[variant_name(claim.b, FEW)]
            effect = few - (table[variant_name(claim.a, ALL)] - table[variant_name(claim.b, ALL)]) \
                if claim.across_fractions else few
            effect = effect.dropna()
            estimate, reps = _pooled(effect, n_boot, seed)
            ci = stats.percentile_interval(estimate, reps)
            p_for, p_against = one_sided_ps(reps, claim)
            runs = effect.groupby(level=[0, 1]).ngroups
            record.update({"effect [95% CI]": f"{100 * estimate:+.1f} [{100 * ci.low:+.1f}, {100 * ci.high:+.1f}] "
                                              f"points", "runs x test images": f"{runs} x {len(effect) // runs}"})
            tested.append((record, p_for, p_against))
    for (record, p_for, p_against), p in zip(tested, holm([min(1.0, 2 * min(f, a)) for _, f, a in tested])):
        record["p (Holm)"] = f"{p:.3g}"
        record["verdict"] = ("inconclusive at this sample size" if p >= alpha
                             else "supported" if p_for < p_against else "contradicted")
    return pd.DataFrame(records)


def _measure(claim: StudyClaim) -> str:
    few, every = f"{FEW:.0%}", f"{ALL:.0%}"
    if not claim.across_fractions:
        return f"test accuracy at {few} labels: {claim.a} − {claim.b} > 0"
    return f"test accuracy: ({claim.a} − {claim.b} at {few} labels) − (the same at {every}) > 0"


NOTE = ("Label efficiency: claims tested on the stored per-image predictions of every trial (a trial is one "
        "label draw and one initialisation; `--seeds` adds jobs of more trials), paired by test image, with a "
        "bootstrap over test images in which every replicate also redraws the trials; p-values two-sided "
        f"(claim or its opposite), Holm-corrected over the claims; verdicts at family-wise level {ALPHA:g}.")


def correctness_tables(study_rows: pd.DataFrame, load_predictions) -> dict[str, pd.DataFrame]:
    """dataset -> correctness table (``correctness``) of the done study rows; ``load_predictions(out_dir,
    job_key, variant)`` reads a row's stored predictions."""
    frames: dict[str, list[pd.DataFrame]] = {}
    for _, row in study_rows[study_rows["status"] == "done"].iterrows():
        preds = load_predictions(row["out_dir"], row["job_key"], row.get("variant") or "")
        if not preds.empty:
            frames.setdefault(row["dataset"], []).append(preds.assign(seed=int(row["seed"]), variant=row["variant"]))
    return {dataset: correctness(pd.concat(parts, ignore_index=True)) for dataset, parts in frames.items()}


def display_table(accuracies: dict[str, pd.DataFrame], labels: dict[str, dict[float, int]]) -> pd.DataFrame:
    """One line per (dataset, classifier): accuracy [95% CI] per labelled fraction, and the label counts."""
    records = []
    for dataset, table in accuracies.items():
        for classifier, part in table.groupby("classifier", sort=False):
            record = {"dataset": dataset, "classifier": classifier}
            for r in part.itertuples():
                record[f"{r.fraction:.0%} of the labels"] = (f"{100 * r.accuracy:.1f} [{100 * r.low:.1f}, "
                                                             f"{100 * r.high:.1f}]")
            record["labels used"] = " / ".join(str(labels[dataset].get(f, "?")) for f in part["fraction"])
            record["runs"] = int(part["runs"].min())
            records.append(record)
    return pd.DataFrame(records)


FIGURE_CAPTION = ("Label efficiency: test accuracy (y, with 95% intervals over test images and trials) against the "
                  "share of training labels used (x, log scale), one panel per dataset, one line per classifier of "
                  "the same encoder: trained from scratch, or pre-trained without labels (autoencoder, VAE) then "
                  "linear-probed (frozen) or fine-tuned. Pre-training helps where a pre-trained line sits above "
                  "'scratch'; the claim is that the gap is widest on the left.")


def figure(accuracies: dict[str, pd.DataFrame]) -> bytes:
    from benchmark.common.plotting import LABEL_SIZE, pyplot, to_png

    plt = pyplot()
    fig, axes = plt.subplots(1, len(accuracies), figsize=(4.4 * len(accuracies), 3.6), squeeze=False,
                             layout="constrained")
    styles = {"scratch": ("black", "-"), "ae-probe": ("tab:blue", ":"), "ae-finetune": ("tab:blue", "-"),
              "vae-probe": ("tab:orange", ":"), "vae-finetune": ("tab:orange", "-")}
    for ax, (dataset, table) in zip(axes.flat, accuracies.items()):
        for classifier, part in table.groupby("classifier", sort=False):
            colour, style = styles[classifier]
            part = part.sort_values("fraction")
            x = 100 * part["fraction"].to_numpy()
            y = 100 * part["accuracy"].to_numpy()
            err = 100 * np.stack([part["accuracy"] - part["low"], part["high"] - part["accuracy"]])
            ax.errorbar(x, y, yerr=err, color=colour, ls=style, marker="o", ms=4, capsize=3, label=classifier)
        ax.set_xscale("log")
        ax.set_xticks([100 * f for f in FRACTIONS], [f"{100 * f:g}" for f in FRACTIONS])
        ax.set_title(dataset, fontsize=LABEL_SIZE)
        ax.set_xlabel("training labels used (%)", fontsize=LABEL_SIZE)
        ax.set_ylabel("test accuracy (%)", fontsize=LABEL_SIZE)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=LABEL_SIZE - 1)
    axes.flat[0].legend(fontsize=LABEL_SIZE - 1)
    return to_png(fig)


def add_to_section(section, study_rows: pd.DataFrame, load_predictions) -> None:
    """The generative report's label-efficiency table, figure and Findings."""
    if study_rows.empty:
        return
    tables = correctness_tables(study_rows, load_predictions)
    if not tables:
        return
    accuracies = {dataset: accuracy_table(table) for dataset, table in tables.items()}
    done = study_rows[study_rows["status"] == "done"]
    labels = {dataset: {f: int(part[part["variant"].str.endswith(f"-{f * 100:g}pct")]["n_labels"].iloc[0])
                        for f in FRACTIONS if part["variant"].str.endswith(f"-{f * 100:g}pct").any()}
              for dataset, part in done.groupby("dataset")}
    section.extra_tables["Label efficiency: test accuracy (%) [95% interval] by share of the training labels "
                         "used"] = display_table(accuracies, labels)
    section.add_figure("label efficiency", figure(accuracies), FIGURE_CAPTION)
    section.findings = evaluate_claims(tables)
    section.findings_note = NOTE
    section.notes.append("Label efficiency (benchmark/studies/label_efficiency.py): one convolutional encoder, "
                         "trained from scratch on the labelled images, or pre-trained on every training image "
                         "without labels (autoencoder; VAE) and then linear-probed (frozen code, logistic regression) "
                         "or fine-tuned; labelled images drawn per trial, stratified, at least one per class.")
