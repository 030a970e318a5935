"""One generative job: fit a density model or sampler, score test NLL in nats and bits/dim, draw
samples, run the nearest-neighbour checks and save the figures.

Units: NLL of the *discrete* images in nats per image (mean over the test set); bits/dim =
nats / (D ln 2) with D = C * H * W. ``kind`` says what the number is: "exact", "dequantised-bound",
"-iwae-k=K" (an upper bound on the NLL) or "-elbo" (a looser one). The train-test gap compares the
test NLL with the NLL of a seeded subset of the training images (as many as the test set, capped).
The harness owns timing; this module only opens the phases on the timer it is given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmark.data.images import ImageData
from benchmark.methods import MethodContext, MethodSpec
from benchmark.pipeline.outcome import JobOutcome, RowResult
from benchmark.common.timing import PhaseTimer
from benchmark.audits import latent_paths
from benchmark.audits.memorisation import nn_check_summary, save_image_grid, save_nn_grid, save_pairs_grid
from benchmark.common.settings import settings_for


@dataclass(frozen=True)
class SuiteParams:
    n_samples: int           # samples drawn for the grid and the NN checks
    n_cells: int             # k-means cells of C_T
    max_train_eval: int      # cap on the training subset scored for the gap
    grid_images: int = 100
    latent_paths: int = 50   # interpolation paths of a latent-variable model (benchmark.audits.latent_paths)
    path_steps: int = 10


SUITE = {
    "smoke": SuiteParams(n_samples=100, n_cells=2, max_train_eval=200, grid_images=50, latent_paths=12, path_steps=8),
    "quick": SuiteParams(n_samples=500, n_cells=5, max_train_eval=1000),
    "paper": SuiteParams(n_samples=10_000, n_cells=50, max_train_eval=10_000, latent_paths=500),
    "quick-large": SuiteParams(n_samples=120, n_cells=3, max_train_eval=500),
}
# The quick profile is sized for 8x8 digits (64 values per image); on larger images (28x28 = 784)
# its methods read their "quick-large" settings so the whole quick suite stays within minutes on 2 cores.
LARGE_DIMS = 256


def sized_profile(profile: str, dims: int) -> str:
    """The settings row a method reads: ``quick-large`` for the quick profile on images above LARGE_DIMS values."""
    return f"{profile}-large" if profile == "quick" and dims > LARGE_DIMS else profile


def _nll_metrics(prefix: str, nats: np.ndarray, dims: int) -> dict:
    mean = float(np.mean(nats))
    return {f"{prefix}nll_nats": mean,
            f"{prefix}nll_nats_se": float(np.std(nats, ddof=1) / math.sqrt(len(nats))) if len(nats) > 1 else 0.0,
            f"{prefix}bits_per_dim": mean / (dims * math.log(2))}


def _density_row(variant: str, kind: str, test: np.ndarray, train: np.ndarray, dims: int, base: dict) -> RowResult:
    metrics = {**base, "kind": kind, **_nll_metrics("", test, dims)}
    metrics["train_nll_nats"] = float(np.mean(train))
    metrics["gap_nats"] = metrics["nll_nats"] - metrics["train_nll_nats"]
    predictions = [{"item": f"test/{i}", "group": "test", "nll_nats": float(v)} for i, v in enumerate(test)]
    return RowResult(variant, metrics, predictions)


def _latent_walks(model, data: ImageData, params: SuiteParams, seed: int, name: str, out_dir: Path | None,
                  device: str) -> tuple[dict, list[str]]:
    """Path metrics of ``model``'s latent space and, with an output folder, its path and arithmetic figures."""
    codes = latent_paths.prior_paths(model.latent_size_, params.latent_paths, params.path_steps, seed + 2)
    paths = latent_paths.decode_paths(model.decode_latent, codes)
    metrics = latent_paths.path_metrics(paths, data.train, data.test, data.levels, device=device)
    if out_dir is None:
        return metrics, []
    encode = getattr(model, "encode_latent", None)
    arithmetic = latent_paths.arithmetic_codes(model.latent_size_, 6, seed + 3, encode, data.test)
    return metrics, [latent_paths.save_path_grid(out_dir / f"{name}-interpolations.png", paths, data.levels),
                     latent_paths.save_arithmetic_grid(out_dir / f"{name}-arithmetic.png", model.decode_latent,
                                                       arithmetic, data.levels)]


def run_generative_job(spec: MethodSpec, ctx: MethodContext, data: ImageData, timer: PhaseTimer) -> JobOutcome:
    ctx = replace(ctx, profile=sized_profile(ctx.profile, data.dims))
    if spec.modality in ("audit", "study"):   # planted copies, label efficiency: studies, not one model
        return spec.build(ctx).run(data, timer, ctx.artefact_dir)
    params = settings_for(SUITE, ctx.profile)
    dims = data.dims
    rng = np.random.default_rng([ctx.seed, 5])
    n_train_eval = min(len(data.train), len(data.test), params.max_train_eval)
    train_eval = data.train[np.sort(rng.choice(len(data.train), n_train_eval, replace=False))]
    base = {"dataset": data.name, "binarised": data.binarised or "", "levels": data.levels, "dims": dims,
            "n_train": len(data.train), "n_test": len(data.test), "n_train_eval": n_train_eval,
            "settings": ctx.profile}
    model = spec.build(ctx)
    with timer.phase("train"):
        model.fit(data.train, data.levels)

    rows: list[RowResult] = []
    if spec.modality != "sampler":  # samplers (GANs) define no likelihood
        with timer.phase("infer"):
            test_nll = model.nll(data.test)
        with timer.phase("infer_train"):
            train_nll = model.nll(train_eval)
        rows.append(_density_row("", test_nll.kind, test_nll.nats, train_nll.nats, dims, base))
        if hasattr(model, "bounds"):  # extra rows, e.g. the VAE's -ELBO beside its -L_k
            with timer.phase("infer_bounds"):
                test_b, train_b = model.bounds(data.test), model.bounds(train_eval)
            for kind, nats in test_b.items():
                rows.append(_density_row(kind.lstrip("-"), kind, nats, train_b[kind], dims, base))
    else:
        rows.append(RowResult("", {**base, "kind": "none (no likelihood)", "nll_nats": None, "bits_per_dim": None}))

    artefacts: list[str] = []
    out_dir = Path(ctx.artefact_dir) if ctx.artefact_dir else None
    try:
        with timer.phase("sample"):
            samples = model.sample(params.n_samples, ctx.seed + 1)
    except NotImplementedError:
        samples = None
    if samples is not None:
        if samples.shape[1:] != data.train.shape[1:] or samples.dtype != np.uint8:
            raise ValueError(f"{spec.name}: samples {samples.dtype} {samples.shape}, expected uint8 "
                             f"(n, {', '.join(map(str, data.train.shape[1:]))})")
        with timer.phase("nncheck"):
            nn_metrics, nn_idx, records = nn_check_summary(samples, data.train, data.test, data.levels,
                                                           n_cells=params.n_cells, seed=ctx.seed, device=ctx.device)
        rows[0].metrics.update(nn_metrics)
        if not rows[0].predictions:   # a sampler: its per-sample checks are what the CI gate compares
            rows[0] = replace(rows[0], predictions=records)
        if out_dir is not None:
            artefacts.append(save_image_grid(out_dir / f"{spec.name}-samples.png", samples[:params.grid_images],
                                             data.levels))
            artefacts.append(save_nn_grid(out_dir / f"{spec.name}-nearest-train.png", samples, data.train, nn_idx,
                                          data.levels))
    if hasattr(model, "decode_latent"):   # GANs and VAEs: interpolation paths and latent arithmetic
        with timer.phase("latent"):
            metrics, latent_artefacts = _latent_walks(model, data, params, ctx.seed, spec.name, out_dir, ctx.device)
        rows[0].metrics.update(metrics)
        artefacts += latent_artefacts
    if out_dir is not None and hasattr(model, "reconstruct"):
        originals = data.test[:10]
        artefacts.append(save_pairs_grid(out_dir / f"{spec.name}-reconstructions.png", originals,
                                         model.reconstruct(originals), data.levels))

    timings = timer.as_dict()
    if "infer" in timer.seconds and timer.seconds["infer"] > 0:
        timings["infer_images_per_s"] = round(len(data.test) / timer.seconds["infer"], 3)
    if samples is not None and timer.seconds.get("sample", 0) > 0:
        timings["sample_images_per_s"] = round(len(samples) / timer.seconds["sample"], 3)
    costs = model.costs() if hasattr(model, "costs") else {}
    return JobOutcome(rows=rows, timings=timings, costs=costs, artefacts=artefacts)
