"""Encoding a video's local descriptors into one vector: bag of words and Fisher vectors.

Each transformer takes ``X`` as a sequence of per-video descriptor arrays (n_i, d) of one channel
(``MultiChannel`` applies one per column block of per-video (n_i, C) arrays) and returns one row
per video, so they compose in a scikit-learn Pipeline with a classifier.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state


def sample_descriptors(X: Sequence[np.ndarray], n: int, random_state) -> np.ndarray:
    """At most n descriptors drawn uniformly without replacement from all videos together."""
    X = [np.asarray(x) for x in X]
    sizes = np.array([len(x) for x in X])
    total = int(sizes.sum())
    if total == 0:
        raise ValueError("no descriptors to fit on: every training video is empty")
    rng = check_random_state(random_state)
    picked = np.sort(rng.choice(total, size=min(n, total), replace=False))
    video = np.searchsorted(np.cumsum(sizes), picked, side="right")
    offset = picked - np.concatenate([[0], np.cumsum(sizes)[:-1]])[video]
    return np.stack([X[v][o] for v, o in zip(video, offset)]).astype(np.float32)


class BagOfWords(TransformerMixin, BaseEstimator):
    """k-means codebook on sampled descriptors; a video is its L1-normalised hard-assignment histogram.

    Wang et al.: 4000 words on 100,000 sampled training descriptors, best of 8 k-means runs.
    """

    def __init__(self, n_words: int = 4000, max_descriptors: int = 100_000, n_init: int = 8,
                 max_iter: int = 100, random_state=None):
        self.n_words = n_words
        self.max_descriptors = max_descriptors
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Sequence[np.ndarray], y=None) -> "BagOfWords":
        sample = sample_descriptors(X, self.max_descriptors, self.random_state)
        n_words = min(self.n_words, len(sample))
        kmeans = KMeans(n_clusters=n_words, n_init=self.n_init, max_iter=self.max_iter,
                        random_state=self.random_state)
        self.codebook_ = kmeans.fit(sample).cluster_centers_.astype(np.float32)
        self.n_features_out_ = n_words
        return self

    def words(self, descriptors: np.ndarray) -> np.ndarray:
        """Index of the nearest codeword of every descriptor: argmin ||c||² - 2 x·c, one float32
        matrix product per chunk of descriptors."""
        x = np.asarray(descriptors, np.float32)
        out = np.empty(len(x), np.intp)
        c2 = (self.codebook_ ** 2).sum(axis=1)
        step = max(1, (1 << 24) // max(1, len(self.codebook_)))  # ~64 MB of scores per chunk
        for start in range(0, len(x), step):
            scores = x[start:start + step] @ self.codebook_.T
            scores *= -2
            scores += c2
            out[start:start + step] = scores.argmin(axis=1)
        return out

    def transform(self, X: Sequence[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(X), self.n_features_out_))
        for i, x in enumerate(X):
            counts = np.bincount(self.words(x), minlength=self.n_features_out_)
            if counts.sum():
                out[i] = counts / counts.sum()
        return out


class FisherVector(TransformerMixin, BaseEstimator):
    """Improved Fisher vector: PCA (to ``pca_fraction`` of the dimension), diagonal GMM, gradients
    w.r.t. means and variances, power (signed square root) and L2 normalisation."""

    def __init__(self, n_components: int = 256, pca_fraction: float = 0.5, max_descriptors: int = 256_000,
                 random_state=None):
        self.n_components = n_components
        self.pca_fraction = pca_fraction
        self.max_descriptors = max_descriptors
        self.random_state = random_state

    def fit(self, X: Sequence[np.ndarray], y=None) -> "FisherVector":
        sample = sample_descriptors(X, self.max_descriptors, self.random_state)
        dims = max(1, int(round(sample.shape[1] * self.pca_fraction)))
        if len(sample) < dims:
            raise ValueError(f"Fisher vectors: the training videos give {len(sample)} descriptors, fewer than the "
                             f"{dims} PCA dimensions; the set is too small (or its videos too short) for this encoding")
        self.pca_ = PCA(n_components=dims, random_state=self.random_state).fit(sample)
        reduced = self.pca_.transform(sample)
        k = min(self.n_components, len(sample))
        self.gmm_ = GaussianMixture(k, covariance_type="diag", reg_covar=1e-4,
                                    random_state=self.random_state).fit(reduced)
        self.n_features_out_ = 2 * k * dims
        return self

    def _encode(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(self.n_features_out_)
        w, mu = self.gmm_.weights_, self.gmm_.means_
        sigma = np.sqrt(self.gmm_.covariances_)                              # (K, D)
        s0 = np.zeros(len(w))
        s1 = np.zeros_like(mu)
        s2 = np.zeros_like(mu)
        for start in range(0, len(x), 8192):  # sufficient statistics, chunked
            z = self.pca_.transform(np.asarray(x[start:start + 8192], np.float32))
            gamma = self.gmm_.predict_proba(z)                               # (T, K)
            s0 += gamma.sum(axis=0)
            s1 += gamma.T @ z
            s2 += gamma.T @ (z * z)
        g_mu = (s1 - s0[:, None] * mu) / sigma
        g_sigma = (s2 - 2 * mu * s1 + s0[:, None] * mu * mu) / (sigma * sigma) - s0[:, None]
        t = len(x)
        g_mu /= t * np.sqrt(w)[:, None]
        g_sigma /= t * np.sqrt(2 * w)[:, None]
        fv = np.concatenate([g_mu.ravel(), g_sigma.ravel()])
        fv = np.sign(fv) * np.sqrt(np.abs(fv))
        length = np.linalg.norm(fv)
        return fv / length if length > 0 else fv

    def transform(self, X: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([self._encode(x) for x in X]) if len(X) else np.zeros((0, self.n_features_out_))


class MultiChannel(TransformerMixin, BaseEstimator):
    """One clone of ``encoder`` per channel (a column block of the per-video arrays); the outputs are
    concatenated in channel order (``blocks_`` gives their widths, for ``MultiChannelChi2SVM``)."""

    def __init__(self, encoder, channels: tuple[tuple[int, int], ...]):
        self.encoder = encoder
        self.channels = channels

    def fit(self, X: Sequence[np.ndarray], y=None) -> "MultiChannel":
        self.encoders_ = []
        for start, stop in self.channels:
            self.encoders_.append(clone(self.encoder).fit([x[:, start:stop] for x in X]))
        self.blocks_ = tuple(e.n_features_out_ for e in self.encoders_)
        return self

    def transform(self, X: Sequence[np.ndarray]) -> np.ndarray:
        parts = [e.transform([x[:, start:stop] for x in X])
                 for e, (start, stop) in zip(self.encoders_, self.channels)]
        return np.concatenate(parts, axis=1)
