"""The validation carve: settings are chosen on held-out *training* actors, never on the test split.

``bench run --validation`` replaces each split's (train, test) by (train minus validation groups,
validation groups): the groups (actors, UCF101 gXX) of the split's training set, sorted, and every
``VALIDATION_EVERY``-th of them from the first (at least ``MIN_VALIDATION_GROUPS``) become the
validation groups. The carve is deterministic and depends only on the training groups of the split,
so the test videos are never seen, and a result row says which data it was evaluated on
(``params.evaluated_on``: "test" or "validation").

Each method's per-profile settings say where they were chosen (``CHOSEN_ON`` below, stored with every
job as ``params.settings_chosen_on``). A setting chosen from a ``--validation`` run reads
"validation"; "test split (legacy)" marks one chosen before the carve existed, which a reader must
treat as tuned on the reported data.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from benchmark.common.settings import SETTINGS_FALLBACK

VALIDATION_EVERY = 3          # one training group in three becomes a validation group
MIN_VALIDATION_GROUPS = 2


def validation_groups(groups) -> np.ndarray:
    """The training groups that become validation groups (sorted unique ids, every third from the first)."""
    unique = np.unique(np.asarray(groups))
    if len(unique) < MIN_VALIDATION_GROUPS + 1:
        raise ValueError(f"only {len(unique)} training groups: a validation carve needs at least "
                         f"{MIN_VALIDATION_GROUPS + 1}")
    chosen = unique[::VALIDATION_EVERY]
    if len(chosen) < MIN_VALIDATION_GROUPS:
        chosen = unique[:MIN_VALIDATION_GROUPS]
    return chosen


def carve(data):
    """A ``DatasetSplit`` whose test set is the validation groups of its training set."""
    held = validation_groups(data.train.groups)
    is_val = np.isin(data.train.groups, held)
    return replace(data, train=data.train.subset(np.flatnonzero(~is_val)),
                   test=data.train.subset(np.flatnonzero(is_val)))


# Where each video method's small-profile settings were chosen (see each method file's docstring and the
# comment at its per-profile row). "validation": chosen from `bench run --validation` results only.
_ON_VALIDATION = {
    "smoke": ("dt-bow-svm", "dt-fv-svm", "idt-bow-svm", "single-frame", "early-fusion", "late-fusion", "slow-fusion",
              "c3d", "two-stream", "lrcn", "gru-rcn", "conv-pooling", "late-pooling", "slow-pooling",
              "feature-histograms"),
    # the deep models' and the histograms' ci rows (the others read their smoke rows there)
    "ci": ("dt-bow-svm", "dt-fv-svm", "idt-bow-svm", "single-frame", "early-fusion", "late-fusion", "slow-fusion",
           "c3d", "two-stream", "lrcn", "gru-rcn", "conv-pooling", "late-pooling", "slow-pooling",
           "feature-histograms"),
    # two candidates each
    "quick": ("dt-bow-svm", "dt-fv-svm", "idt-bow-svm", "single-frame", "early-fusion", "late-fusion", "slow-fusion",
              "c3d", "two-stream", "lrcn", "gru-rcn", "conv-pooling", "late-pooling", "slow-pooling",
              "feature-histograms"),
}
CHOSEN_ON: dict[str, dict[str, str]] = {
    method: {profile: "validation" for profile, methods in _ON_VALIDATION.items() if method in methods}
    for method in sorted(set().union(*_ON_VALIDATION.values()))}


# The generative suite's settings, as their files record them: the classical densities' quick sizes were
# picked on the validation images (baselines/generative/density.py); the gan's smoke row on the validation
# images (deep/generative/gan.py), and every row of wgan-gp and lsgan (benchmark/tools/tune_sampler.py); the
# smoke rows otherwise sized the suite to run in seconds; the deep
# models' quick rows carry no record of what they were chosen on.
_NO_SETTINGS = "no settings to choose"
_SIZED = "sized for time, not tuned"
_UNRECORDED = "not recorded (set before the validation carve)"
_DENSITIES = ("categorical-mixture", "gmm-diag-discretised", "gmm-full", "kde", "pca-gaussian")
GENERATIVE_CHOSEN_ON: dict[str, dict[str, str]] = {
    **{m: {"smoke": _NO_SETTINGS, "quick": _NO_SETTINGS} for m in ("uniform", "pixel-categorical")},
    **{m: {"smoke": _SIZED, "quick": "validation"} for m in _DENSITIES},
    **{m: {"smoke": _SIZED, "quick": _UNRECORDED} for m in ("pixelcnn", "gated-pixelcnn", "vae", "vae-dlogistic")},
    # sized for the quick suite's time budget; lr and batch from 2-3 candidates on the held-out slice of the
    # training images (deep/generative/pixelrnn.py), never on the validation or test images
    **{m: {"smoke": _SIZED, "quick": "sized for time; lr and batch on a held-out slice of train"}
       for m in ("pixelrnn-row-lstm", "pixelrnn-diagonal-bilstm")},
    "gan": {"smoke": "validation", "quick": _UNRECORDED},
    **{m: {"smoke": "validation", "quick": "validation"} for m in ("wgan-gp", "lsgan")},
    "planted-copies": {"smoke": _SIZED, "quick": _SIZED},
    # benchmark/studies/label_efficiency.py: fine-tuning steps (digits) and pre-training epochs (Fashion-MNIST)
    # on the validation images; the ci row was sized for CI time and only checked to sit above chance
    "label-efficiency": {"smoke": _SIZED, "ci": "sized for CI time, then checked above chance on its own run",
                         "quick": "validation"},
}


def chosen_on(method: str, profile: str) -> str:
    if profile == "paper":
        return "the papers' published settings"
    base_profile = {"quick-large": "quick", **SETTINGS_FALLBACK}.get(profile, profile)
    known = {**CHOSEN_ON, **GENERATIVE_CHOSEN_ON}.get(method, {})
    return known.get(profile, known.get(base_profile, "test split (legacy)"))
