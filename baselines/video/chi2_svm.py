"""Multi-channel χ² kernel SVM (Wang et al. CVPR 2011 / IJCV 2013, after Zhang et al. 2007).

K(x, y) = exp(-Σ_c D_c(x_c, y_c) / A_c), D_c the χ² distance Σ (x - y)² / (x + y) of channel c
(a column block) and A_c the mean χ² distance between the training samples of that channel; the
SVMs are one-vs-rest on the precomputed kernel (scikit-learn's SVC).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics.pairwise import additive_chi2_kernel
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted


def chi2_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """(len(X), len(Y)) χ² distances Σ (x - y)² / (x + y), 0/0 taken as 0 (non-negative inputs)."""
    return -additive_chi2_kernel(np.asarray(X, np.float64), np.asarray(Y, np.float64))


class MultiChannelChi2SVM(ClassifierMixin, BaseEstimator):
    """One-vs-rest SVMs on the multi-channel χ² kernel.

    blocks: widths of the channel column blocks of X (None: X is one channel). Predicted class =
    largest one-vs-rest decision value.
    """

    def __init__(self, blocks: tuple[int, ...] | None = None, C: float = 100.0):
        self.blocks = blocks
        self.C = C

    def _split(self, X: np.ndarray) -> list[np.ndarray]:
        X = np.asarray(X, np.float64)
        if np.any(X < 0):
            raise ValueError("the χ² kernel needs non-negative features (histograms)")
        widths = self.blocks or (X.shape[1],)
        if sum(widths) != X.shape[1]:
            raise ValueError(f"blocks {widths} do not add up to the {X.shape[1]} columns of X")
        return np.split(X, np.cumsum(widths)[:-1], axis=1)

    def _kernel(self, X: np.ndarray) -> np.ndarray:
        total = np.zeros((len(X), len(self.train_[0])))
        for part, train, scale in zip(self._split(X), self.train_, self.mean_distances_):
            total += chi2_distances(part, train) / scale
        return np.exp(-total)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "MultiChannelChi2SVM":
        self.train_ = self._split(X)
        self.mean_distances_ = []
        for part in self.train_:
            mean = chi2_distances(part, part).mean()
            self.mean_distances_.append(mean if mean > 0 else 1.0)  # a constant channel adds nothing
        self.classes_ = np.unique(y)
        gram = self._kernel(X)
        self.svm_ = OneVsRestClassifier(SVC(kernel="precomputed", C=self.C)).fit(gram, y)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "svm_")
        scores = self.svm_.decision_function(self._kernel(X))
        if scores.ndim == 1:  # two classes: sklearn returns the positive-class score only
            scores = np.stack([-scores, scores], axis=1)
        return scores

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
