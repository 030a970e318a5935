"""Planted copies: the measured power of the memorisation detectors.

A sampler whose output is known: a fraction r of its n samples are training images (exact copies,
copies with light Gaussian noise, or copies shifted by one pixel), the rest are held-out images the
models never saw. Each detector decides "memorises" or not; over seeds that gives its detection
rate at each r and its false-alarm rate at r = 0, in pixel space and in the 32-d code of a small
convolutional autoencoder trained here on the training split (no downloaded weights).

Held-out images: ``valid`` and ``test`` pooled and cut at random per trial into the sampler's
source and the detectors' reference set (as many reference images as samples), so that at r = 0 samples and reference are exchangeable
and every rule below is a level-``ALPHA`` test (C_T's is conservative).

Detectors and their rules (one decision per trial):
- ``nn-ratio``: share of samples whose nearest / second-nearest training distance is < 1/3, above the
  reference's share (one-sided Fisher exact test, p < ALPHA);
- ``exact-copies``: samples identical to a training image (distance 0), more than in the reference;
- ``ct``: C_T of Meehan, Chaudhuri & Dasgupta (AISTATS 2020) over k-means cells, C_T < -1.645;
- ``authenticity``: Alaa et al. (ICML 2022): a sample is inauthentic when it is closer to its
  nearest training image than that image is to its own nearest other training image; share of
  inauthentic samples above the reference's (one-sided Fisher exact test, p < ALPHA);
- ``latent-path``: the samples held by a latent lookup generator (``benchmark.audits.latent_paths``: a
  code decodes to the sample of its nearest random anchor code); per interpolation path, the mean
  nearest-training distance of the samples it visits; the same paths over the reference images; fires
  when the sampler's paths sit nearer the training set (one-sided permutation test that swaps images
  between the two sets, p < ALPHA). It is the
  known-answer check of the generative jobs' ``latent_path_*`` figures;
- ``likelihood-gap``: in the spirit of FLD (Jiralerspong et al., 2023): a Gaussian kernel density on
  the samples (bandwidth: half their median nearest-neighbour distance); training images more likely
  than reference images under it (one-sided Mann-Whitney, p < ALPHA).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import fisher_exact, mannwhitneyu
from sklearn.cluster import KMeans
from torch import nn

from benchmark.audits.latent_paths import lookup_path_test
from benchmark.audits.memorisation import MEMORISED_RATIO, ct_from_cells, nearest_neighbours
from benchmark.common.timing import PhaseTimer
from benchmark.pipeline.outcome import JobOutcome, RowResult

RATES = (0.0, 0.01, 0.05, 0.10, 0.25)
COPY_KINDS = ("exact", "noise", "shift")
SPACES = ("pixel", "feature")
ALPHA = 0.05
CT_THRESHOLD = -1.645
NOISE_STD = 0.03              # light noise: Gaussian, sd 3% of the level range, rounded and clipped
AUDIT_KIND = "audit (planted copies)"
DETECTORS = {
    "nn-ratio": "share of samples with NN/2nd-NN training distance < 1/3 above the reference's (Fisher, p<0.05)",
    "exact-copies": "more samples identical to a training image than the reference holds",
    "ct": "C_T (Meehan et al. 2020) < -1.645",
    "authenticity": "share of inauthentic samples (Alaa et al. 2022) above the reference's (Fisher, p<0.05)",
    "likelihood-gap": "train images likelier than reference images under a KDE on the samples (FLD-style; "
                      "Mann-Whitney, p<0.05)",
    "latent-path": "a lookup generator over the samples (each at a random latent code): its interpolation paths "
                   "stay nearer the training set than the same paths over the reference (permutation test, p<0.05)",
}


@dataclass(frozen=True)
class StudyParams:
    n_samples: int           # sampler output per trial (capped at half the held-out pool)
    n_seeds: int             # trials per (r, copy kind); r = 0 is shared by the kinds
    n_cells: int             # k-means cells of C_T
    feature_epochs: int      # autoencoder training epochs
    min_cell_samples: int = 20


STUDY = {
    "smoke": StudyParams(n_samples=100, n_seeds=3, n_cells=2, feature_epochs=2),
    "quick": StudyParams(n_samples=250, n_seeds=20, n_cells=5, feature_epochs=30),
    "quick-large": StudyParams(n_samples=200, n_seeds=10, n_cells=3, feature_epochs=4),
    "paper": StudyParams(n_samples=1000, n_seeds=100, n_cells=20, feature_epochs=20),
}


# --- the sampler ----------------------------------------------------------------------------------
def perturb(images: np.ndarray, kind: str, levels: int, rng: np.random.Generator) -> np.ndarray:
    """Copies of training images: exact, with light noise, or shifted one pixel (edge replicated)."""
    if kind == "exact":
        return images.copy()
    if kind == "noise":
        noisy = images + rng.normal(0.0, NOISE_STD * (levels - 1), images.shape)
        return np.clip(np.rint(noisy), 0, levels - 1).astype(np.uint8)
    if kind == "shift":
        out = np.empty_like(images)
        for i, image in enumerate(images):
            axis, step = int(rng.integers(2)) + 2, int(rng.choice([-1, 1]))
            pad = [(0, 0)] * image.ndim
            pad[axis - 1] = (1, 1)
            padded = np.pad(image, pad, mode="edge")
            start = 1 - step
            out[i] = np.take(padded, range(start, start + image.shape[axis - 1]), axis=axis - 1)
        return out
    raise ValueError(f"unknown copy kind {kind!r}; valid: {', '.join(COPY_KINDS)}")


def plant(train: np.ndarray, fresh: np.ndarray, rate: float, kind: str, n: int, levels: int,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(samples, is_copy): round(rate * n) perturbed training images, the rest drawn from ``fresh``."""
    n_copy = int(round(rate * n))
    copies = perturb(train[rng.choice(len(train), n_copy, replace=False)], kind, levels, rng)
    others = fresh[rng.choice(len(fresh), n - n_copy, replace=False)]
    samples = np.concatenate([copies, others])
    is_copy = np.r_[np.ones(n_copy, bool), np.zeros(n - n_copy, bool)]
    order = rng.permutation(n)
    return samples[order], is_copy[order]


# --- the feature space ----------------------------------------------------------------------------
class _AutoEncoder(nn.Module):
    def __init__(self, colours: int, dims: int, code: int = 32):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(colours, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(32 * 16, code))
        self.decoder = nn.Sequential(nn.ReLU(), nn.Linear(code, 256), nn.ReLU(), nn.Linear(256, dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class FeatureSpace:
    """A small convolutional autoencoder fitted on the training images; its 32-d code is the space."""

    def __init__(self, epochs: int, seed: int, device: str = "cpu"):
        self.epochs, self.seed, self.device = epochs, seed, device

    def fit(self, train: np.ndarray, levels: int) -> "FeatureSpace":
        torch.manual_seed(self.seed)
        self.levels_ = levels
        x = self._unit(train)
        self.net_ = _AutoEncoder(x.shape[1], int(np.prod(x.shape[1:]))).to(self.device)
        optimiser = torch.optim.Adam(self.net_.parameters(), lr=2e-3)
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            for idx in torch.randperm(len(x), generator=gen).split(64):
                batch = x[idx].to(self.device)
                loss = ((self.net_(batch) - batch.flatten(1)) ** 2).mean()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
        self.net_.eval()
        return self

    def _unit(self, images: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(images.astype(np.float32) / max(self.levels_ - 1, 1))

    @torch.no_grad()
    def transform(self, images: np.ndarray) -> np.ndarray:
        x = self._unit(images)
        # one image at a time: a batched convolution may round differently with the batch size, and
        # an exact copy must map to exactly its training image's code
        return torch.cat([self.net_.encoder(b.to(self.device)).cpu() for b in x.split(1)]).numpy()


# --- the detectors --------------------------------------------------------------------------------
@dataclass
class Space:
    """One space's training points and what every trial reuses (cells, each training point's NN radius)."""

    train: np.ndarray
    kmeans: KMeans
    train_cells: np.ndarray
    train_radius: np.ndarray     # distance of each training point to its nearest other training point
    device: str = "cpu"

    @classmethod
    def build(cls, train: np.ndarray, n_cells: int, seed: int, device: str = "cpu") -> "Space":
        kmeans = KMeans(n_cells, random_state=seed, n_init=3).fit(train)
        radius = nearest_neighbours(train, train, 2, device=device)[0][:, 1]
        return cls(train, kmeans, kmeans.labels_, radius, device)


def _fisher_greater(k_a: int, n_a: int, k_b: int, n_b: int) -> float:
    return float(fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]], alternative="greater")[1])


def _kde_loglik(points: np.ndarray, centres: np.ndarray, bandwidth: float, device: str) -> np.ndarray:
    """log-density (up to a constant shared by all points) of an isotropic Gaussian KDE on ``centres``."""
    p = torch.as_tensor(points, dtype=torch.float32, device=device)
    c = torch.as_tensor(centres, dtype=torch.float32, device=device)
    sq = torch.cdist(p, c) ** 2
    return torch.logsumexp(-sq / (2 * bandwidth ** 2), dim=1).cpu().numpy()


def detect(space: Space, gen: np.ndarray, ref: np.ndarray, *, min_cell_samples: int) -> dict[str, tuple[float, bool]]:
    """Every detector on one trial: name -> (statistic, fired)."""
    gen_d, gen_i = nearest_neighbours(gen, space.train, 2, device=space.device)
    ref_d, ref_i = nearest_neighbours(ref, space.train, 2, device=space.device)
    n, n_ref = len(gen), len(ref)
    out: dict[str, tuple[float, bool]] = {}

    def close(d):  # the NN-ratio rule of memorisation.memorised_fraction, per sample
        return (d[:, 0] == 0) | (d[:, 0] < MEMORISED_RATIO * d[:, 1])

    k_gen, k_ref = int(close(gen_d).sum()), int(close(ref_d).sum())
    out["nn-ratio"] = (k_gen / n, _fisher_greater(k_gen, n, k_ref, n_ref) < ALPHA)
    e_gen, e_ref = int((gen_d[:, 0] == 0).sum()), int((ref_d[:, 0] == 0).sum())
    out["exact-copies"] = (float(e_gen), e_gen * n_ref > e_ref * n)
    cells = {"train": space.train_cells, "test": space.kmeans.predict(ref), "gen": space.kmeans.predict(gen)}
    ct = ct_from_cells(space.train, ref, gen, cells, n_cells=space.kmeans.n_clusters,
                       min_cell_samples=min_cell_samples, device=space.device)["ct"]
    out["ct"] = (float("nan") if ct is None else ct, ct is not None and ct < CT_THRESHOLD)
    a_gen = int((gen_d[:, 0] <= space.train_radius[gen_i[:, 0]]).sum())   # inauthentic samples
    a_ref = int((ref_d[:, 0] <= space.train_radius[ref_i[:, 0]]).sum())
    out["authenticity"] = (1 - a_gen / n, _fisher_greater(a_gen, n, a_ref, n_ref) < ALPHA)
    gen_nn = nearest_neighbours(gen, gen, 2, device=space.device)[0][:, 1]
    bandwidth = max(float(np.median(gen_nn)) / 2, 1e-6)
    ll_train = _kde_loglik(space.train, gen, bandwidth, space.device)
    ll_ref = _kde_loglik(ref, gen, bandwidth, space.device)
    gap = float(np.mean(ll_train) - np.mean(ll_ref))
    out["likelihood-gap"] = (gap, float(mannwhitneyu(ll_train, ll_ref, alternative="greater").pvalue) < ALPHA)
    novelty, p_path = lookup_path_test(gen_d[:, 0], ref_d[:, 0])
    out["latent-path"] = (novelty, p_path < ALPHA)
    return out


# --- the study ------------------------------------------------------------------------------------
def power_study(train: np.ndarray, held_out: np.ndarray, levels: int, params: StudyParams, seed: int,
                embed=None, device: str = "cpu", *, rates=RATES, kinds=COPY_KINDS, detector=None) -> list[dict]:
    """Detection rate of each detector at each (space, copy kind, r); r = 0 rows are the false alarms.

    ``embed(images) -> points`` maps images to the feature space (None: pixel space only);
    ``detector(space, gen, ref, min_cell_samples=...) -> {name: (statistic, fired)}`` (default: ``detect``).
    """
    detect_fn = detector or detect
    spaces = {"pixel": lambda x: x.reshape(len(x), -1).astype(np.float32) / max(levels - 1, 1)}
    if embed is not None:
        spaces["feature"] = embed
    built = {name: Space.build(f(train), params.n_cells, seed, device) for name, f in spaces.items()}
    held_points = {name: f(held_out) for name, f in spaces.items()}   # the references are held-out images
    n = min(params.n_samples, len(held_out) // 2)
    tallies: dict[tuple, list] = {}
    for trial in range(params.n_seeds):
        for rate in rates:
            for kind in (kinds[:1] if rate == 0 else kinds):   # r = 0 plants nothing
                rng = np.random.default_rng([seed, trial, int(rate * 1000), COPY_KINDS.index(kind)])
                order = rng.permutation(len(held_out))
                ref_idx = order[:n]                              # as many reference images as samples
                samples, _ = plant(train, held_out[order[len(held_out) // 2:]], rate, kind, n, levels, rng)
                for name, f in spaces.items():
                    results = detect_fn(built[name], f(samples), held_points[name][ref_idx],
                                        min_cell_samples=params.min_cell_samples)
                    for detector, (value, fired) in results.items():
                        tallies.setdefault((name, "none" if rate == 0 else kind, rate, detector), []).append(
                            (value, fired))
    rows = []
    for (space, kind, rate, detector), values in tallies.items():
        stats = np.array([v for v, _ in values], dtype=float)
        rows.append({"space": space, "copy_kind": kind, "rate": rate, "detector": detector,
                     "trials": len(values), "detection_rate": float(np.mean([f for _, f in values])),
                     "mean_statistic": float(np.nanmean(stats)) if np.isfinite(stats).any() else None,
                     "n_samples": n})
    return rows


class PlantedCopyStudy:
    """The generative suite's audit job: not a model, a measurement of the detectors on this dataset."""

    def __init__(self, params: StudyParams, *, seed: int = 0, device: str = "cpu"):
        self.params, self.seed, self.device = params, seed, device

    def run(self, data, timer: PhaseTimer, artefact_dir: str | None = None) -> JobOutcome:
        held_out = np.concatenate([data.valid, data.test])
        with timer.phase("train"):
            features = FeatureSpace(self.params.feature_epochs, self.seed, self.device).fit(data.train, data.levels)
        with timer.phase("study"):
            rows = power_study(data.train, held_out, data.levels, self.params, self.seed, features.transform,
                               self.device)
        metrics = {"dataset": data.name, "kind": AUDIT_KIND, "levels": data.levels, "n_train": len(data.train),
                   "n_held_out": len(held_out), "alpha": ALPHA, "power": rows}
        return JobOutcome(rows=[RowResult("", metrics)], timings=timer.as_dict(), costs={})


def power_frame(audits) -> "pd.DataFrame":
    """Long table: dataset, space, copy kind, rate, detector, detection rate pooled over jobs (seeds)."""
    import pandas as pd

    records = []
    for _, row in audits[audits["status"] == "done"].iterrows():
        for entry in row.get("power") or []:
            records.append({"dataset": row["dataset"], **entry})
    if not records:
        return pd.DataFrame()
    long = pd.DataFrame(records)
    long["detections"] = long["detection_rate"] * long["trials"]
    pooled = long.groupby(["dataset", "space", "detector", "copy_kind", "rate"], sort=False).agg(
        trials=("trials", "sum"), detections=("detections", "sum")).reset_index()
    pooled["detection_rate"] = pooled["detections"] / pooled["trials"]
    return pooled


def power_table(pooled) -> "pd.DataFrame":
    """Display: one row per (dataset, space, detector); false alarms at r=0, then detection % per kind and r."""
    import pandas as pd

    rows = []
    for (dataset, space, detector), part in pooled.groupby(["dataset", "space", "detector"], sort=False):
        null = part[part["rate"] == 0]
        record = {"dataset": dataset, "space": space, "detector": detector,
                  "false alarm r=0": _pct_of(null) if not null.empty else ""}
        for kind in COPY_KINDS:
            for rate in RATES[1:]:
                hit = part[(part["copy_kind"] == kind) & (part["rate"] == rate)]
                record[f"{kind} {rate:.0%}"] = _pct_of(hit) if not hit.empty else ""
        rows.append(record)
    return pd.DataFrame(rows)


def _pct_of(part) -> str:
    detections, trials = int(round(part["detections"].sum())), int(part["trials"].sum())
    return f"{100 * detections / trials:.0f}% ({detections}/{trials})"


POWER_CAPTION = ("Planted copies: how often each memorisation detector fires (y) against the fraction r of "
                 "the sampler's output that are training images (x), one panel per space and copy kind, one "
                 "line per detector. At r = 0 nothing is planted, so that point is the false-alarm rate, which "
                 f"should stay near the dotted {ALPHA:.0%} line; a useful detector climbs to 100% at small r.")


def power_figure(pooled) -> bytes:
    """Detection rate against r: one panel per (dataset, space, copy kind), one line per detector."""
    from benchmark.common.plotting import LABEL_SIZE, pyplot, to_png

    plt = pyplot()
    panels = [(d, s, k) for d in pooled["dataset"].unique() for s in SPACES for k in COPY_KINDS
              if ((pooled["dataset"] == d) & (pooled["space"] == s)).any()]
    cols = len(COPY_KINDS)
    lines = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(3.6 * cols, 3.0 * lines + 0.6), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, (dataset, space, kind) in zip(axes.flat, panels):
        part = pooled[(pooled["dataset"] == dataset) & (pooled["space"] == space)
                      & ((pooled["copy_kind"] == kind) | (pooled["rate"] == 0))]
        for detector in DETECTORS:
            line = part[part["detector"] == detector].sort_values("rate")
            ax.plot(100 * line["rate"], 100 * line["detection_rate"], marker="o", ms=4, label=detector)
        ax.axhline(100 * ALPHA, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{dataset}, {space} space, {kind} copies", fontsize=LABEL_SIZE)
        ax.set_xlabel("planted copies r (%)", fontsize=LABEL_SIZE)
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=LABEL_SIZE - 1)
    for ax in axes[:, 0]:
        ax.set_ylabel("detection rate (%)", fontsize=LABEL_SIZE)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=LABEL_SIZE)
    return to_png(fig)


def add_to_section(section, audits) -> None:
    """The generative report's "planted copies" table, figure and notes."""
    pooled = power_frame(audits)
    if pooled.empty:
        return
    section.extra_tables["Planted copies: how often each memorisation detector fires (false alarms at r = 0, "
                         "detection rate per copy kind and fraction r of training copies)"] = power_table(pooled)
    section.add_figure("planted copies", power_figure(pooled), POWER_CAPTION)
    section.notes.append("Planted copies (benchmark/audits/planted_copies.py): rules: " + "; ".join(
        f"{k}: {v}" for k, v in DETECTORS.items()) + ". Feature space: the 32-d code of a small convolutional "
        "autoencoder trained on the training split. Counts are detections / trials.")
