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
              "c3d", "two-stream", "lrcn", "gru-rcn"),
    # two candidates each (c3d and dt-fv-svm were not varied: legacy)
    "quick": ("dt-bow-svm", "idt-bow-svm", "single-frame", "early-fusion", "late-fusion", "slow-fusion",
              "two-stream", "lrcn", "gru-rcn", "feature-histograms"),
}
CHOSEN_ON: dict[str, dict[str, str]] = {
    method: {profile: "validation" for profile, methods in _ON_VALIDATION.items() if method in methods}
    for method in sorted(set().union(*_ON_VALIDATION.values()))}


def chosen_on(method: str, profile: str) -> str:
    if profile == "paper":
        return "the papers' published settings"
    return CHOSEN_ON.get(method, {}).get(profile, "test split (legacy)")
