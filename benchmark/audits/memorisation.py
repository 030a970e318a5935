"""Nearest-neighbour checks of generated samples against the training set.

- exact k-NN in pixel space (levels scaled to [0, 1]), chunked on torch: candidates by the
  ||a||^2 + ||b||^2 - 2ab matrix product, then the exact distances of the candidates in float64;
- the fraction of samples whose nearest / second-nearest training distance ratio is < 1/3;
- a Mann-Whitney z of generated-to-train against test-to-train nearest distances (z << 0: samples
  sit closer to the training images than held-out images do);
- the data-copying statistic C_T of Meehan, Chaudhuri & Dasgupta (AISTATS 2020): the training set
  is cut into k-means cells, the Mann-Whitney z of the two distance samples is taken per cell
  (distances to the training images of that cell; the paper's z: continuity-corrected, no tie
  correction) and averaged with weights P_n(cell) over cells holding at least ``min_cell_samples``
  generated samples. C_T << 0 flags data copying (known-answer test in tests/test_planted_copies.py);
- sample quality as a kernel two-sample distance: the unbiased MMD^2 (Gretton et al. 2012) between the
  samples and the test images, Gaussian kernel with its width fixed by the test images alone (median
  pairwise distance), so every method of a dataset is scored on one scale; training images score about 0;
- PNG grids of samples, and of each sample next to its nearest training images.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.cluster import KMeans
from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel

MEMORISED_RATIO = 1.0 / 3.0


def as_points(images: np.ndarray, levels: int) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / max(levels - 1, 1)


@torch.no_grad()
def nearest_neighbours(queries: np.ndarray, refs: np.ndarray, k: int = 2, *, device: str = "cpu",
                       extra_candidates: int = 8, max_block: int = 2 ** 25) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean k-NN of each query row among ``refs`` rows: (distances (n, k), indices (n, k))."""
    refs_t = torch.as_tensor(refs, dtype=torch.float32, device=device)
    refs_sq = (refs_t ** 2).sum(1)
    n_cand = min(k + extra_candidates, len(refs_t))
    chunk = max(1, max_block // len(refs_t))
    dists, idxs = [], []
    for start in range(0, len(queries), chunk):
        q = torch.as_tensor(queries[start:start + chunk], dtype=torch.float32, device=device)
        approx = (q ** 2).sum(1, keepdim=True) + refs_sq - 2.0 * q @ refs_t.T
        cand = approx.topk(n_cand, dim=1, largest=False).indices
        exact = ((q[:, None, :].double() - refs_t[cand].double()) ** 2).sum(-1)
        order = exact.argsort(dim=1)[:, :k]
        dists.append(exact.gather(1, order).sqrt().cpu())
        idxs.append(cand.gather(1, order).cpu())
    return torch.cat(dists).numpy(), torch.cat(idxs).numpy()


def memorised_fraction(dist: np.ndarray, ratio: float = MEMORISED_RATIO) -> float:
    """Share of rows with nearest / second-nearest distance < ratio (an exact copy counts)."""
    d1, d2 = dist[:, 0], dist[:, 1]
    return float(np.mean((d1 == 0) | (d1 < ratio * d2)))


def mann_whitney_z(a: np.ndarray, b: np.ndarray) -> float:
    """z of U_a = #{(i, j): a_i > b_j} (+ half ties) under H0, with the tie-corrected variance."""
    n1, n2 = len(a), len(b)
    ranks = rankdata(np.concatenate([a, b]))
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    _, counts = np.unique(np.concatenate([a, b]), return_counts=True)
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - (counts ** 3 - counts).sum() / (n * (n - 1)))
    return float((u - n1 * n2 / 2) / np.sqrt(var)) if var > 0 else 0.0


def ct_cell_z(d_gen: np.ndarray, d_test: np.ndarray) -> float:
    """Z-scored Mann-Whitney U of one cell as Meehan et al. define it: U counts pairs with the generated
    distance above the test distance (ties half), mean mn/2 - 1/2 (continuity), variance mn(m+n+1)/12."""
    m, n = len(d_gen), len(d_test)
    ranks = rankdata(np.concatenate([d_gen, d_test]))
    u = ranks[:m].sum() - m * (m + 1) / 2
    return float((u - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12))


def ct_from_cells(train: np.ndarray, test: np.ndarray, generated: np.ndarray, cells: dict[str, np.ndarray], *,
                  n_cells: int, min_cell_samples: int = 20, device: str = "cpu") -> dict:
    """C_T given each point's cell: per cell, nearest distances to the training points *of that cell*,
    the cell's z, and the average weighted by the test share P_n(cell) over cells holding at least
    ``min_cell_samples`` generated samples (and some train and test points)."""
    weights, z_scores = [], []
    for cell in range(n_cells):
        tr, te, ge = (x[cells[name] == cell] for name, x in (("train", train), ("test", test), ("gen", generated)))
        if len(tr) == 0 or len(te) == 0 or len(ge) < min_cell_samples:
            continue
        d_test = nearest_neighbours(te, tr, 1, device=device)[0][:, 0]
        d_gen = nearest_neighbours(ge, tr, 1, device=device)[0][:, 0]
        weights.append(len(te) / len(test))
        z_scores.append(ct_cell_z(d_gen, d_test))
    if not weights:
        return {"ct": None, "ct_cells": 0}  # no cell holds enough samples: C_T is undefined
    return {"ct": float(np.dot(weights, z_scores) / np.sum(weights)), "ct_cells": len(weights)}


def data_copying_ct(train: np.ndarray, test: np.ndarray, generated: np.ndarray, *, n_cells: int, seed: int,
                    min_cell_samples: int = 20, device: str = "cpu") -> dict:
    """C_T over k-means cells of the training points (rows are flattened points); None if no cell qualifies."""
    kmeans = KMeans(n_cells, random_state=seed, n_init=3).fit(train)
    cells = {name: kmeans.predict(x) for name, x in (("train", train), ("test", test), ("gen", generated))}
    return ct_from_cells(train, test, generated, cells, n_cells=n_cells, min_cell_samples=min_cell_samples,
                         device=device)


REALISTIC_QUANTILE = 0.95
MMD_POINTS = 1000   # cap per side: the kernel matrices stay at most 1000 x 1000


def kernel_width(reference: np.ndarray) -> float:
    """Median pairwise Euclidean distance of the reference points (the median heuristic)."""
    d = euclidean_distances(reference)
    return float(np.median(d[np.triu_indices(len(d), 1)]))


def mmd2(a: np.ndarray, b: np.ndarray, width: float) -> float:
    """Unbiased MMD^2 of two point sets with the Gaussian kernel exp(-||x - y||^2 / (2 width^2)):
    about 0 (it can go slightly negative) when both come from one distribution, up to 2."""
    gamma = 1.0 / (2.0 * width ** 2)
    k_aa, k_bb, k_ab = rbf_kernel(a, a, gamma=gamma), rbf_kernel(b, b, gamma=gamma), rbf_kernel(a, b, gamma=gamma)
    n, m = len(a), len(b)
    return float((k_aa.sum() - np.trace(k_aa)) / (n * (n - 1)) + (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
                 - 2.0 * k_ab.mean())


def sample_quality(gen_pts: np.ndarray, train_pts: np.ndarray, test_pts: np.ndarray, seed: int) -> dict:
    """MMD^2 of the samples to the test images, and of as many training images (the floor a sampler of the
    data distribution reaches), on seeded subsets of at most ``MMD_POINTS``."""
    rng = np.random.default_rng([seed, 11])
    pick = lambda x, n: x[np.sort(rng.choice(len(x), min(n, len(x)), replace=False))]
    test = pick(test_pts, MMD_POINTS)
    width = kernel_width(test)
    gen = pick(gen_pts, MMD_POINTS)
    return {"mmd2_test": mmd2(gen, test, width), "mmd2_train_test": mmd2(pick(train_pts, len(gen)), test, width),
            "mmd_kernel_width": width}


def per_sample(gen_d: np.ndarray, gen_i: np.ndarray, test_d: np.ndarray) -> list[dict]:
    """One record per sample for the CI gate: its nearest training distance and image, and whether it
    is "realistic": no farther from the training set than the held-out images' ``REALISTIC_QUANTILE``
    (noise images score 0%, held-out images 95% by construction; a collapsed sampler shows as few
    distinct nearest images)."""
    threshold = float(np.quantile(test_d[:, 0], REALISTIC_QUANTILE))
    return [{"item": f"sample/{k}", "group": "sample", "nn_dist": float(d), "nn_index": int(i),
             "realistic": bool(d <= threshold)} for k, (d, i) in enumerate(zip(gen_d[:, 0], gen_i[:, 0]))]


def nn_check_summary(samples: np.ndarray, train: np.ndarray, test: np.ndarray, levels: int, *, n_cells: int,
                     seed: int, device: str = "cpu") -> tuple[dict, np.ndarray, list[dict]]:
    """All checks for one sampler: (metrics, nearest training indices (n_samples, 2), per-sample records)."""
    gen_pts, train_pts, test_pts = (as_points(x, levels) for x in (samples, train, test))
    gen_d, gen_i = nearest_neighbours(gen_pts, train_pts, 2, device=device)
    test_d, _ = nearest_neighbours(test_pts, train_pts, 2, device=device)
    ct = data_copying_ct(train_pts, test_pts, gen_pts, n_cells=n_cells, seed=seed, device=device)
    metrics = {
        "nn_samples": len(samples),
        "nn_memorised_frac": memorised_fraction(gen_d),
        "nn_memorised_frac_test_ref": memorised_fraction(test_d),
        "nn_exact_copy_frac": float(np.mean(gen_d[:, 0] == 0)),
        "nn_gen_train_median_dist": float(np.median(gen_d[:, 0])),
        "nn_test_train_median_dist": float(np.median(test_d[:, 0])),
        "nn_mw_z": mann_whitney_z(gen_d[:, 0], test_d[:, 0]),
        "nn_ct": ct["ct"],
        "nn_ct_cells": ct["ct_cells"],
    }
    records = per_sample(gen_d, gen_i, test_d)
    metrics["nn_realistic_frac"] = float(np.mean([r["realistic"] for r in records]))
    metrics["nn_distinct_frac"] = len({r["nn_index"] for r in records}) / len(records)
    metrics.update(sample_quality(gen_pts, train_pts, test_pts, seed))
    return metrics, gen_i, records


def _tile(images: np.ndarray, levels: int, scale: int) -> list[np.ndarray]:
    """uint8 (N, C, H, W) levels -> list of (H*scale, W*scale, 3) BGR uint8 tiles."""
    pixels = (images.astype(np.float32) * (255.0 / max(levels - 1, 1))).round().astype(np.uint8)
    tiles = []
    for img in pixels:
        rgb = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img[:3]
        bgr = np.ascontiguousarray(rgb.transpose(1, 2, 0)[..., ::-1])
        tiles.append(cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST))
    return tiles


def _save(path: Path, rows: list[list[np.ndarray]], gap: int = 2) -> str:
    height, width = rows[0][0].shape[:2]
    n_cols = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (height + gap) + gap, n_cols * (width + gap) + gap, 3), 96, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            y, x = gap + i * (height + gap), gap + j * (width + gap)
            canvas[y:y + height, x:x + width] = tile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), canvas):
        raise OSError(f"could not write {path}")
    return str(path)


def _scale(images: np.ndarray) -> int:
    return max(1, 64 // images.shape[-1])


def save_image_grid(path: str | Path, images: np.ndarray, levels: int, n_cols: int = 10) -> str:
    tiles = _tile(images, levels, _scale(images))
    return _save(Path(path), [tiles[i:i + n_cols] for i in range(0, len(tiles), n_cols)])


def save_image_rows(path: str | Path, rows: list[np.ndarray], levels: int) -> str:
    """One line of tiles per array of images (n_i, C, H, W), all at one scale."""
    scale = _scale(rows[0])
    return _save(Path(path), [_tile(images, levels, scale) for images in rows])


def save_nn_grid(path: str | Path, samples: np.ndarray, train: np.ndarray, nn_idx: np.ndarray, levels: int,
                 n_rows: int = 12) -> str:
    """Each row: a sample, then its nearest and second-nearest training images."""
    n = min(n_rows, len(samples))
    scale = _scale(samples)
    rows = [[*_tile(samples[i:i + 1], levels, scale), *_tile(train[nn_idx[i]], levels, scale)] for i in range(n)]
    return _save(Path(path), rows)


def save_pairs_grid(path: str | Path, originals: np.ndarray, others: np.ndarray, levels: int) -> str:
    """Two rows: originals above, their counterparts (e.g. VAE reconstructions) below."""
    scale = _scale(originals)
    return _save(Path(path), [_tile(originals, levels, scale), _tile(others, levels, scale)])
