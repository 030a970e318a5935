"""Our dense trajectories against the authors' DenseTrack v1.2 output on two real UCF101 clips.

Measured (Farnebäck pyramid, this machine, OpenCV 5.0):

| clip       | ours  | reference | per-frame r | subset matched | mean abs diff traj / hog / hof / mbhx / mbhy |
|------------|-------|-----------|-------------|----------------|----------------------------------------------|
| Bowling    | 39990 | 39955     | 0.9992      | 3656/3996 91.5%| 0.00035 / 0.00011 / 0.00033 / 0.0020 / 0.0020 |
| IceDancing | 31664 | 31680     | 0.9987      | 2823/3168 89.1%| 0.00044 / 0.00022 / 0.00039 / 0.0007 / 0.0011 |

Matched = same end frame and scale, mean position within 1 px. The descriptors are square roots of
L1-normalised histograms (values ~0.05-0.5), so these differences are ~1% of a typical value; the
median cosine similarity is > 0.9999 for every channel. The tolerances below are the measured
figures with a small margin.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from baselines.dense_trajectories import DTParams, column_slices, dense_trajectories
from benchmark.data.video import iter_frames

CLIPS = ("v_Bowling_g01_c01", "v_IceDancing_g01_c01")
CHANNELS = ("traj", "hog", "hof", "mbhx", "mbhy")
# measured mean |difference| per value, worst of the two clips, times ~1.5
MAX_MEAN_ABS_DIFF = {"traj": 0.0007, "hog": 0.0004, "hof": 0.0006, "mbhx": 0.003, "mbhy": 0.003}


@pytest.fixture(scope="module", params=CLIPS)
def clip(request, shared_data):
    name = request.param
    path = shared_data / "videos" / f"{name}.avi"
    n_frames = sum(1 for _ in iter_frames(path))
    ours = dense_trajectories(iter_frames(path), DTParams(), n_frames=n_frames)
    reference = np.load(shared_data / "reference" / "densetrack_v1.2" / f"{name}.dt_v1.2.npz")
    return name, ours, {k: reference[k] for k in reference.files}


def _match(ours: np.ndarray, full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (reference row, our row) with the same end frame and scale and mean position within 1 px."""
    def points(rows):
        group = rows[:, 0] * 16 + np.round(np.log2(rows[:, 6]) * 2)  # frame, scale index
        return np.stack([group * 1e5, rows[:, 1], rows[:, 2]], axis=1)

    distance, index = cKDTree(points(ours)).query(points(full), distance_upper_bound=1.0)
    found = np.isfinite(distance)
    return np.nonzero(found)[0], index[found]


def test_trajectory_count_within_half_a_percent(clip):
    name, ours, ref = clip
    ratio = len(ours) / len(ref["header"])
    assert abs(ratio - 1) < 0.005, (name, len(ours), len(ref["header"]))  # measured 0.09%, 0.05%


def test_counts_per_scale_within_one_percent(clip):
    name, ours, ref = clip
    for scale in np.unique(ref["header"][:, 6]):
        theirs = int((ref["header"][:, 6] == scale).sum())
        mine = int((np.abs(ours[:, 6] - scale) < 1e-4).sum())
        assert abs(mine - theirs) <= max(5, 0.01 * theirs), (name, scale, mine, theirs)


def test_per_frame_counts_correlate(clip):
    name, ours, ref = clip
    frames = int(max(ours[:, 0].max(), ref["header"][:, 0].max())) + 1
    mine = np.bincount(ours[:, 0].astype(int), minlength=frames)[15:]
    theirs = np.bincount(ref["header"][:, 0].astype(int), minlength=frames)[15:]
    assert np.corrcoef(mine, theirs)[0, 1] > 0.998  # measured 0.9992, 0.9987


def test_header_columns_agree(clip):
    name, ours, ref = clip
    full = ref["subset_full"]
    i, j = _match(ours, full)
    header_diff = np.median(np.abs(full[i, :10] - ours[j, :10]), axis=0)
    assert header_diff[0] == 0 and header_diff[6] < 1e-6  # same end frame and scale (printed %f)
    assert np.all(header_diff[1:6] < 0.03), header_diff  # mean, std, length in px; measured <= 0.015
    assert np.all(header_diff[7:] < 1e-4), header_diff   # normalised positions


def test_matched_descriptors_agree(clip):
    name, ours, ref = clip
    full = ref["subset_full"]
    i, j = _match(ours, full)
    assert len(i) / len(full) > 0.87, (name, len(i), len(full))  # measured 91.5%, 89.1%
    cols = column_slices(DTParams())
    for channel in CHANNELS:
        theirs, mine = full[i, cols[channel]], ours[j, cols[channel]]
        mean_abs = np.abs(theirs - mine).mean()
        assert mean_abs < MAX_MEAN_ABS_DIFF[channel], (name, channel, mean_abs)
        cosine = (theirs * mine).sum(1) / np.linalg.norm(theirs, axis=1) / np.linalg.norm(mine, axis=1)
        assert np.median(cosine) > 0.9999, (name, channel)


def test_trajectory_shape_of_all_rows(clip):
    """The reference keeps the header and trajectory shape of every trajectory: compare all of them."""
    name, ours, ref = clip
    i, j = _match(ours, np.concatenate([ref["header"], ref["trajectory"]], axis=1))
    assert len(i) / len(ref["header"]) > 0.87
    cols = column_slices(DTParams())
    diff = np.abs(ref["trajectory"][i] - ours[j, cols["traj"]]).mean()
    assert diff < MAX_MEAN_ABS_DIFF["traj"], (name, diff)
