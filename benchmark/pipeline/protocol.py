"""Evaluation-protocol guards of the video suite: no group shared between a split's train and test
lists, a model scored only on the split it was trained on, and labels that say which splits a
number covers.

- ``guard_split`` refuses (``DatasetError``, exit 2) a split whose test list shares a group id with
  its train list unless overlap is explicitly allowed; a dataset without group ids gets a warning.
  Its result goes into every job's params as ``protocol`` so tables can say what was checked.
- ``splits_label`` / ``protocol_notes``: what the report prints beside each row.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from benchmark.data.datasets import DatasetError, DatasetSplit

if TYPE_CHECKING:  # the store imports this module: `bench features` must not pay for pandas
    import pandas as pd

# protocol["groups"] values
DISJOINT, OVERLAP_ALLOWED, NO_GROUPS = "disjoint", "overlap-allowed", "none"
OFFICIAL_THREE_SPLITS = ("ucf101", "hmdb51")


def shared_groups(data: DatasetSplit) -> tuple[list[int], list[str]]:
    """(group ids in both train and test, test files of those groups) for one split."""
    shared = sorted(set(data.train.groups.tolist()) & set(data.test.groups.tolist()))
    members = set(shared)
    files = [_relative(data, p) for p, g in zip(data.test.paths, data.test.groups.tolist()) if g in members]
    return shared, files


def _relative(data: DatasetSplit, path) -> str:
    try:
        return str(path.relative_to(data.root))
    except ValueError:
        return str(path)


def guard_split(data: DatasetSplit, allow_overlap: bool) -> dict:
    """Check one split before any work; return the ``protocol`` record stored with its jobs."""
    if not data.grouped:
        print(f"warning: {data.name} has no group ids: split {data.split} cannot be checked for train/test "
              f"leakage between related videos; tables mark its rows 'groups: none'", file=sys.stderr)
        return {"groups": NO_GROUPS, "split": data.split}
    shared, files = shared_groups(data)
    if not shared:
        return {"groups": DISJOINT, "split": data.split}
    names = ", ".join(f"g{g:02d}" for g in shared[:8]) + (" ..." if len(shared) > 8 else "")
    listed = ", ".join(files[:3]) + (" ..." if len(files) > 3 else "")
    if not allow_overlap:
        raise DatasetError(
            f"{data.name} split {data.split}: {len(shared)} group(s) in both train and test lists ({names}), "
            f"e.g. test files {listed}; refusing to run (--allow-group-overlap runs it anyway, marked in every table)")
    print(f"warning: {data.name} split {data.split}: {len(shared)} group(s) shared by train and test ({names}); "
          f"running because of --allow-group-overlap, tables will say so", file=sys.stderr)
    return {"groups": OVERLAP_ALLOWED, "split": data.split, "shared_groups": len(shared),
            "shared_test_videos": len(files)}


def check_scored_on_trained_split(job: dict) -> None:
    """The store invariant: a video job's model is trained and scored on the job's own split.

    Every video job the harness writes describes its data (``n_train``, ...) and the splits it was
    trained and scored on; such a job without them, or with another split, is refused.
    """
    if job.get("suite") != "video":
        return
    params = job.get("params") or {}
    trained, scored = params.get("trained_on_split"), params.get("scored_on_split")
    if "n_train" in params and (trained is None or scored is None):
        raise ValueError(f"store invariant: video job {job.get('method')} records no trained_on_split/scored_on_split")
    if (trained, scored) != (None, None) and not trained == scored == job.get("split"):
        raise ValueError(f"store invariant: {job.get('method')} trained on split {trained}, scored on split "
                         f"{scored}, recorded as split {job.get('split')}: a model is only scored on its own split")


# --- what tables print ----------------------------------------------------------------------------
def splits_label(dataset: str, splits) -> str:
    """Which splits a row's number covers, e.g. 'split 1 only' or 'mean ± sd of splits 1-3'."""
    splits = sorted({int(s) for s in splits})
    if len(splits) == 1:
        only = f"split {splits[0]} only"
        return only + (" (not the 3-split mean)" if _official(dataset) else "")
    return f"mean ± sd of splits {', '.join(map(str, splits))}"


def _official(dataset: str) -> bool:
    return any(name in str(dataset).lower() for name in OFFICIAL_THREE_SPLITS)


def protocol_notes(rows: pd.DataFrame) -> list[str]:
    """Notes for a table built from these rows: overlapping groups allowed, or no group ids."""
    if "group_protocol" not in rows:
        return []
    notes = []
    for value, text in ((OVERLAP_ALLOWED, "ran with --allow-group-overlap: test videos share groups with training "
                                          "videos, so these numbers are optimistic"),
                        (NO_GROUPS, "the dataset has no group ids: train/test leakage between related videos "
                                    "could not be checked")):
        hit = rows[rows["group_protocol"] == value]
        if not hit.empty:
            which = ", ".join(f"{d} split {s}" for d, s in sorted(set(zip(hit["dataset"], hit["split"]))))
            notes.append(f"PROTOCOL: {which}: {text}.")
    return notes


def annotate_video_section(section, done: pd.DataFrame) -> None:
    """Add which splits each row covers (and the per-split spread of hit@1), the decoder, and the protocol notes."""
    if section.display.empty:
        return
    labels, spreads = [], []
    for (dataset, method), rows in done.groupby(["dataset", "method"], sort=False):
        labels.append(splits_label(dataset, rows["split"]))
        import pandas as pd

        per_split = rows.groupby("split")["video_hit1"].mean() if "video_hit1" in rows else pd.Series(dtype=float)
        spreads.append(f"{100 * per_split.mean():.1f} ± {100 * per_split.std(ddof=1):.1f}"
                       if len(per_split) > 1 else "")
    before_paper = len(section.display.columns) - 1   # after the measured columns, before the published one
    section.display.insert(before_paper, "splits", labels)
    section.numeric["splits"] = labels
    if any(spreads):
        section.display.insert(before_paper + 1, "hit@1 over splits (mean ± sd)", spreads)
    if "decoder" in done:
        decoders = sorted(done["decoder"].dropna().astype(str).unique())
        if decoders:
            section.notes.append(f"Decoded with {'; '.join(decoders)}.")
    section.notes.extend(protocol_notes(done))
