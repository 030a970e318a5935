"""Classical density estimators scored in the same units as the deep generative models.

Every model sees images as uint8 levels 0..K-1 and reports a negative log-likelihood of the
*discrete* data in nats per image:

- ``exact``: uniform, independent per-pixel categorical, mixture of categoricals (EM), and a
  diagonal Gaussian mixture whose density is integrated over each pixel's bin with the Gaussian
  CDF (outer bins extend to +-inf, so the K probabilities of a pixel sum to one).
- ``dequantised-bound``: continuous densities p(y) (full-covariance Gaussian mixture, PCA
  Gaussian, kernel density) fitted on y = (x + u) / K, u ~ U[0,1)^D. Since
  P(x) = K^-D E_u p((x+u)/K), Jensen gives  -log P(x) <= -log mean_s p(y_s) + D log K  in
  expectation over the S uniform draws (S = ``dequant_samples``): a Monte Carlo upper bound.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import log_ndtr, logsumexp
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from benchmark.methods import NLL, MethodSpec
from benchmark.common.settings import settings_for


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.int64)


class UniformDensity:
    """Every image equally likely: D log K nats, the ceiling any fitted model must beat."""

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, train: np.ndarray, levels: int) -> "UniformDensity":
        self.levels_, self.shape_ = levels, train.shape[1:]
        return self

    def nll(self, x: np.ndarray) -> NLL:
        dims = int(np.prod(x.shape[1:]))
        return NLL(np.full(len(x), dims * np.log(self.levels_)), "exact")

    def sample(self, n: int, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, self.levels_, (n, *self.shape_), dtype=np.uint8)


class PixelCategorical:
    """Independent categorical per pixel (and channel), counts smoothed by ``alpha``."""

    def __init__(self, alpha: float = 1.0, random_state: int = 0):
        self.alpha, self.random_state = alpha, random_state

    def fit(self, train: np.ndarray, levels: int) -> "PixelCategorical":
        flat = _flat(train)
        counts = np.stack([(flat == k).sum(0) for k in range(levels)], axis=1) + self.alpha  # (D, K)
        self.log_probs_ = np.log(counts / counts.sum(1, keepdims=True))
        self.levels_, self.shape_ = levels, train.shape[1:]
        return self

    def nll(self, x: np.ndarray) -> NLL:
        flat = _flat(x)
        return NLL(-self.log_probs_[np.arange(flat.shape[1]), flat].sum(1), "exact")

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        cdf = np.cumsum(np.exp(self.log_probs_), axis=1)
        draws = (rng.random((n, len(cdf), 1)) > cdf[None]).sum(-1)
        return np.minimum(draws, self.levels_ - 1).astype(np.uint8).reshape(n, *self.shape_)


class CategoricalMixture:
    """Mixture of independent per-pixel categoricals, fitted by EM (Dirichlet-smoothed M-step)."""

    def __init__(self, n_components: int = 10, n_iter: int = 50, alpha: float = 1.0, tol: float = 1e-4,
                 random_state: int = 0):
        self.n_components, self.n_iter, self.alpha, self.tol = n_components, n_iter, alpha, tol
        self.random_state = random_state

    def _component_loglik(self, flat: np.ndarray) -> np.ndarray:
        cols = np.arange(flat.shape[1])
        return np.stack([lp[cols, flat].sum(1) for lp in self.log_probs_], axis=1)  # (N, M)

    def _m_step(self, flat: np.ndarray, resp: np.ndarray) -> None:
        counts = np.stack([(flat == k).T.astype(np.float64) @ resp for k in range(self.levels_)], axis=-1)
        counts = counts.transpose(1, 0, 2) + self.alpha  # (M, D, K)
        self.log_probs_ = np.log(counts / counts.sum(-1, keepdims=True))
        weights = resp.sum(0) + 1e-9
        self.log_weights_ = np.log(weights / weights.sum())

    def fit(self, train: np.ndarray, levels: int) -> "CategoricalMixture":
        flat, rng = _flat(train), np.random.default_rng(self.random_state)
        self.levels_, self.shape_ = levels, train.shape[1:]
        # start each component at a random training image blended with the pixel marginals
        seeds = rng.choice(len(flat), self.n_components, replace=len(flat) < self.n_components)
        marginal = np.stack([(flat == k).mean(0) for k in range(levels)], axis=1)  # (D, K)
        one_hot = np.eye(levels)[flat[seeds]]                                       # (M, D, K)
        self.log_probs_ = np.log(0.5 * one_hot + 0.5 * marginal + 1e-3)
        self.log_probs_ -= np.log(np.exp(self.log_probs_).sum(-1, keepdims=True))
        self.log_weights_ = np.full(self.n_components, -np.log(self.n_components))
        previous = -np.inf
        for self.n_iter_ in range(1, self.n_iter + 1):
            joint = self._component_loglik(flat) + self.log_weights_
            total = logsumexp(joint, axis=1, keepdims=True)
            self._m_step(flat, np.exp(joint - total))
            mean_ll = float(total.mean())
            if mean_ll - previous < self.tol:
                break
            previous = mean_ll
        return self

    def nll(self, x: np.ndarray) -> NLL:
        joint = self._component_loglik(_flat(x)) + self.log_weights_
        return NLL(-logsumexp(joint, axis=1), "exact")

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        comps = rng.choice(self.n_components, size=n, p=np.exp(self.log_weights_))
        cdf = np.cumsum(np.exp(self.log_probs_[comps]), axis=-1)  # (n, D, K)
        draws = (rng.random((*cdf.shape[:2], 1)) > cdf).sum(-1)
        return np.minimum(draws, self.levels_ - 1).astype(np.uint8).reshape(n, *self.shape_)


def _log_diff_ndtr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Phi(b) - Phi(a)) for a < b, evaluated in the tail where it is accurate."""
    upper = a > 0  # both in the upper tail: use Phi(-a) - Phi(-b)
    lo, hi = np.where(upper, -b, a), np.where(upper, -a, b)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + np.log1p(-np.exp(np.minimum(log_lo - log_hi, -1e-300)))


class DiscretisedDiagonalGMM:
    """Diagonal Gaussian mixture on dequantised data, evaluated exactly on the pixel bins."""

    def __init__(self, n_components: int = 10, reg_covar: float = 1e-4, random_state: int = 0):
        self.n_components, self.reg_covar, self.random_state = n_components, reg_covar, random_state

    def fit(self, train: np.ndarray, levels: int) -> "DiscretisedDiagonalGMM":
        rng = np.random.default_rng(self.random_state)
        flat = _flat(train)
        self.levels_, self.shape_ = levels, train.shape[1:]
        self.gmm_ = GaussianMixture(self.n_components, covariance_type="diag", reg_covar=self.reg_covar,
                                    random_state=self.random_state).fit((flat + rng.random(flat.shape)) / levels)
        return self

    def nll(self, x: np.ndarray) -> NLL:
        flat, levels = _flat(x), self.levels_
        lower = np.where(flat == 0, -np.inf, flat / levels)
        upper = np.where(flat == levels - 1, np.inf, (flat + 1) / levels)
        joint = np.empty((len(flat), self.n_components))
        for m in range(self.n_components):
            mean, std = self.gmm_.means_[m], np.sqrt(self.gmm_.covariances_[m])
            joint[:, m] = _log_diff_ndtr((lower - mean) / std, (upper - mean) / std).sum(1)
        joint += np.log(self.gmm_.weights_)
        return NLL(-logsumexp(joint, axis=1), "exact")

    def sample(self, n: int, seed: int) -> np.ndarray:
        self.gmm_.random_state = seed
        y, _ = self.gmm_.sample(n)
        rng = np.random.default_rng(seed)
        y = y[rng.permutation(n)]  # sklearn returns samples grouped by component
        return np.clip(np.floor(y * self.levels_), 0, self.levels_ - 1).astype(np.uint8).reshape(n, *self.shape_)


class _DequantisedDensity:
    """Continuous density on y = (x + u) / K; subclasses fit ``_fit_y`` / ``_log_density`` / ``_sample_y``."""

    kind = "dequantised-bound"

    def fit(self, train: np.ndarray, levels: int):
        rng = np.random.default_rng(self.random_state)
        flat = _flat(train)
        self.levels_, self.shape_ = levels, train.shape[1:]
        self._fit_y((flat + rng.random(flat.shape)) / levels, rng)
        return self

    def nll(self, x: np.ndarray) -> NLL:
        flat, rng = _flat(x), np.random.default_rng([self.random_state, 7])
        logs = np.stack([self._log_density((flat + rng.random(flat.shape)) / self.levels_)
                         for _ in range(self.dequant_samples)])
        log_mean = logsumexp(logs, axis=0) - np.log(self.dequant_samples)
        return NLL(-log_mean + flat.shape[1] * np.log(self.levels_), self.kind)

    def sample(self, n: int, seed: int) -> np.ndarray:
        y = self._sample_y(n, np.random.default_rng(seed))
        return np.clip(np.floor(y * self.levels_), 0, self.levels_ - 1).astype(np.uint8).reshape(n, *self.shape_)


class DequantisedGMM(_DequantisedDensity):
    """scikit-learn GaussianMixture (full covariance) on dequantised pixels."""

    def __init__(self, n_components: int = 10, reg_covar: float = 1e-4, dequant_samples: int = 8,
                 random_state: int = 0):
        self.n_components, self.reg_covar, self.dequant_samples = n_components, reg_covar, dequant_samples
        self.random_state = random_state

    def _fit_y(self, y, rng):
        self.gmm_ = GaussianMixture(self.n_components, covariance_type="full", reg_covar=self.reg_covar,
                                    random_state=self.random_state).fit(y)

    def _log_density(self, y):
        return self.gmm_.score_samples(y)

    def _sample_y(self, n, rng):
        self.gmm_.random_state = int(rng.integers(2**31))
        return self.gmm_.sample(n)[0][rng.permutation(n)]


class PCAGaussian(_DequantisedDensity):
    """Probabilistic PCA (scikit-learn's ``PCA.score_samples``) on dequantised pixels."""

    def __init__(self, n_components: int = 20, dequant_samples: int = 8, random_state: int = 0):
        self.n_components, self.dequant_samples, self.random_state = n_components, dequant_samples, random_state

    def _fit_y(self, y, rng):
        n_components = min(self.n_components, y.shape[1] - 1, len(y) - 1)
        self.pca_ = PCA(n_components, random_state=self.random_state).fit(y)

    def _log_density(self, y):
        return self.pca_.score_samples(y)

    def _sample_y(self, n, rng):
        return rng.multivariate_normal(self.pca_.mean_, self.pca_.get_covariance(), size=n, method="cholesky")


class KernelDensityModel(_DequantisedDensity):
    """Gaussian kernel density on dequantised pixels; bandwidth picked from a grid on held-out train."""

    def __init__(self, bandwidths: tuple[float, ...] = (0.03, 0.05, 0.08, 0.12), dequant_samples: int = 4,
                 random_state: int = 0):
        self.bandwidths, self.dequant_samples, self.random_state = bandwidths, dequant_samples, random_state

    def _fit_y(self, y, rng):
        order = rng.permutation(len(y))
        held, fit = y[order[: len(y) // 5]], y[order[len(y) // 5:]]
        scores = [KernelDensity(bandwidth=b).fit(fit).score_samples(held).mean() for b in self.bandwidths]
        self.bandwidth_ = self.bandwidths[int(np.argmax(scores))]
        self.kde_ = KernelDensity(bandwidth=self.bandwidth_).fit(y)

    def _log_density(self, y):
        return self.kde_.score_samples(y)

    def _sample_y(self, n, rng):
        return self.kde_.sample(n, random_state=int(rng.integers(2**31)))


# hyper-parameters per profile: variants are rows of arguments
@dataclass(frozen=True)
class MixtureParams:
    n_components: int
    n_iter: int = 50
    alpha: float = 0.2


@dataclass(frozen=True)
class GaussianParams:
    n_components: int
    dequant_samples: int = 8


# quick sizes picked on the digits validation split (never on test); quick-large: the quick profile on
# images of more than 256 values (28x28 Fashion-MNIST), sized for time (benchmark.pipeline.generative_suite)
MIXTURE = {"smoke": MixtureParams(5, 20), "quick": MixtureParams(20, 60), "paper": MixtureParams(50, 100),
           "quick-large": MixtureParams(10, 15)}
GMM_DIAG = {"smoke": GaussianParams(3, 2), "quick": GaussianParams(20), "paper": GaussianParams(50),
            "quick-large": GaussianParams(10)}
GMM_FULL = {"smoke": GaussianParams(3, 2), "quick": GaussianParams(5, 8), "paper": GaussianParams(20, 16),
            "quick-large": GaussianParams(2, 2)}
PCA_G = {"smoke": GaussianParams(8, 2), "quick": GaussianParams(20, 8), "paper": GaussianParams(40, 16),
         "quick-large": GaussianParams(40, 4)}
KDE_SAMPLES = {"smoke": 2, "quick": 4, "paper": 16, "quick-large": 2}

_FILES = ("baselines/generative/density.py",)


def _spec(name: str, build, description: str) -> MethodSpec:
    return MethodSpec(name=name, build=build, family="classical", modality="density", description=description,
                      code_files=_FILES)


DENSITY_BASELINES: dict[str, MethodSpec] = {
    "uniform": _spec("uniform", lambda ctx: UniformDensity(random_state=ctx.seed),
                     "uniform over the K^D images (exact)"),
    "pixel-categorical": _spec("pixel-categorical", lambda ctx: PixelCategorical(random_state=ctx.seed),
                               "independent categorical per pixel, add-one smoothing (exact)"),
    "categorical-mixture": _spec(
        "categorical-mixture",
        lambda ctx: CategoricalMixture(**asdict(settings_for(MIXTURE, ctx.profile)), random_state=ctx.seed),
        "mixture of per-pixel categoricals fitted by EM, Dirichlet(0.2) smoothing (exact)"),
    "gmm-diag-discretised": _spec(
        "gmm-diag-discretised",
        lambda ctx: DiscretisedDiagonalGMM(settings_for(GMM_DIAG, ctx.profile).n_components, random_state=ctx.seed),
        "diagonal Gaussian mixture integrated over pixel bins (exact)"),
    "gmm-full": _spec("gmm-full", lambda ctx: DequantisedGMM(**asdict(settings_for(GMM_FULL, ctx.profile)), random_state=ctx.seed),
                      "full-covariance Gaussian mixture on dequantised pixels (bound)"),
    "pca-gaussian": _spec("pca-gaussian",
                          lambda ctx: PCAGaussian(**asdict(settings_for(PCA_G, ctx.profile)), random_state=ctx.seed),
                          "probabilistic PCA on dequantised pixels (bound)"),
    "kde": _spec("kde", lambda ctx: KernelDensityModel(dequant_samples=settings_for(KDE_SAMPLES, ctx.profile),
                                                       random_state=ctx.seed),
                 "Gaussian kernel density on dequantised pixels (bound)"),
}
