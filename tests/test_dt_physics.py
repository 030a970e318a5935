"""Physical properties of the dense-trajectory features, on synthetic videos with known motion."""
from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from baselines.video.dt.descriptors import integral_histograms
from baselines.video.dt.trajectories import DTParams, column_slices, dense_trajectories, iter_dense_trajectories
from baselines.video.dt.optical_flow import farneback

COLS = column_slices()


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def pan_video(n_frames: int = 24, size: tuple[int, int] = (96, 128), step: int = 1) -> np.ndarray:
    """Grey frames of a camera panning left over a texture: content moves +step px/frame in x."""
    height, width = size
    big = texture(height, width + step * n_frames + 2)
    x0 = step * n_frames
    return np.stack([big[:, x0 - step * t: x0 - step * t + width] for t in range(n_frames)])


def bin_mass(rows: np.ndarray, channel: str, n_bins: int) -> np.ndarray:
    """Fraction of each orientation bin in a channel, over all trajectories (descriptor² = the
    L1-normalised histogram of a block)."""
    hist = (rows[:, COLS[channel]] ** 2).reshape(len(rows), -1, n_bins).sum(axis=(0, 1))
    return hist / hist.sum()


@pytest.fixture(scope="module")
def pan_rows():
    return dense_trajectories(pan_video(), DTParams())


def test_pan_gives_trajectories_that_follow_it(pan_rows):
    assert len(pan_rows) > 100
    traj = pan_rows[:, COLS["traj"]].reshape(len(pan_rows), -1, 2)
    # 1 px/frame to the right for 15 frames: every normalised step is (1/15, 0)
    np.testing.assert_allclose(np.median(traj[..., 0]), 1 / 15, atol=2e-3)
    assert np.abs(np.median(traj[..., 1])) < 2e-3
    np.testing.assert_allclose(np.median(pan_rows[:, 5]), 15.0, rtol=0.03)  # length in px


def test_pan_puts_hof_mass_in_translation_bin(pan_rows):
    mass = bin_mass(pan_rows, "hof", 9)
    assert mass[0] > 0.9, mass  # 0° = +x, the pan's direction
    assert mass[8] < 0.1, mass  # few still pixels (measured 0.066: the strip entering at the left edge)


def _motion_magnitudes(frames: np.ndarray) -> tuple[float, float]:
    """(HOF moving-bin mass, MBH mass) of the interior cells, before the per-block normalisation."""
    flow = cv2.medianBlur(farneback(frames[0], frames[1]), 5)
    ii = integral_histograms(frames[0], flow).astype(np.float64)
    h, w = frames.shape[1:3]
    sums = ii[h - 16, w - 16] - ii[16, w - 16] - ii[h - 16, 16] + ii[16, 16]  # 16 px margin
    return float(sums[8:16].sum()), float(sums[17:].sum())


def test_pan_gives_no_mbh_while_a_zoom_does():
    # MBH is the flow's gradient: ~0 under a pure translation. (The normalised descriptor cannot
    # show it: the per-block L1 normalisation blows the tiny Farnebäck ripples up to a histogram.)
    hof, mbh = _motion_magnitudes(pan_video()[10:12])
    assert mbh < 0.005 * hof, (hof, mbh)  # measured 0.0007
    big = texture(200, 260)
    zoom = np.stack([cv2.warpAffine(big, cv2.getRotationMatrix2D((130, 100), 0, 1 + 0.02 * t), (260, 200))
                     [52:148, 66:194] for t in range(2)])
    hof, mbh = _motion_magnitudes(zoom)
    assert mbh > 0.1 * hof, (hof, mbh)  # measured 0.22


def test_static_video_gives_no_trajectories():
    frames = np.repeat(texture(96, 128)[None], 24, axis=0)
    assert len(dense_trajectories(frames, DTParams())) == 0


def test_rotation_rotates_hog_bins():
    image = texture(64, 64, seed=3)
    still = np.zeros((64, 64, 2), np.float32)
    hog = integral_histograms(image, still)[-1, -1, :8]  # the whole image's HOG votes
    rotated = integral_histograms(np.ascontiguousarray(np.rot90(image)), still)[-1, -1, :8]
    # np.rot90 turns the picture 90° counter-clockwise: with y pointing down a gradient at angle a
    # ends at a - 90° = 2 bins back (fastAtan2 is accurate to ~0.3°, hence the tolerance)
    np.testing.assert_allclose(rotated, np.roll(hog, -2), rtol=0.01)


def test_rotation_rotates_hof_bins():
    frames = pan_video()
    rotated = np.ascontiguousarray(np.rot90(frames, axes=(1, 2)))  # the pan now moves up (-y)
    rows = dense_trajectories(rotated, DTParams())
    mass = bin_mass(rows, "hof", 9)
    assert mass[6] > 0.9, mass  # 270°, two bins back from 0° for every 90°


def test_same_video_twice_is_identical():
    frames = pan_video(n_frames=20)
    a = dense_trajectories(frames, DTParams())
    b = dense_trajectories(frames, DTParams())
    assert len(a) > 0
    np.testing.assert_array_equal(a, b)


def test_dis_flow_also_tracks_the_pan():
    rows = dense_trajectories(pan_video(), DTParams(flow="dis"))
    assert len(rows) > 100
    assert bin_mass(rows, "hof", 9)[0] > 0.8


def test_idt_removes_the_camera_pan():
    # the whole frame moves with the camera: iDT keeps (almost) nothing, DT keeps everything
    frames = pan_video()
    dt = dense_trajectories(frames, DTParams())
    idt = dense_trajectories(frames, DTParams(idt=True))
    assert len(idt) < 0.05 * len(dt), (len(idt), len(dt))


def test_idt_keeps_an_object_moving_against_the_pan():
    frames = pan_video(n_frames=24).copy()
    patch = texture(32, 32, seed=7)
    for t in range(len(frames)):  # a textured square moving down 2 px/frame over the panning scene
        y = 10 + 2 * t
        frames[t, y:y + 32, 48:80] = patch
    rows = dense_trajectories(frames, DTParams(idt=True))
    assert len(rows) > 5
    traj = rows[:, COLS["traj"]].reshape(len(rows), -1, 2)
    assert np.median(traj[..., 1]) > 0.03  # what survives moves down, with the object


def test_frames_are_streamed():
    """Peak memory of a streamed extraction does not grow with the video's length."""
    def peak(n_frames: int) -> int:
        frames = pan_video(n_frames=n_frames, size=(64, 64))
        tracemalloc.start()
        for _ in iter_dense_trajectories(iter(frames), DTParams(), n_frames=n_frames):
            pass
        result = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return result

    short, long = peak(30), peak(150)
    assert long < 1.3 * short, (short, long)


def test_warp_to_previous_samples_the_current_frame_at_the_homography_and_keeps_the_margin():
    from baselines.video.dt.trajectories import warp_to_previous

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (60, 80), dtype=np.uint8)
    prev = np.full_like(grey, 7)
    shift = np.array([[1.0, 0, 3], [0, 1.0, 2], [0, 0, 1]])  # (x, y) -> (x + 3, y + 2)
    warped = warp_to_previous(prev, grey, shift)
    y, x = np.mgrid[0:60, 0:80]
    inside = (x + 3 > 5) & (x + 3 < 80 - 1 - 5) & (y + 2 > 5) & (y + 2 < 60 - 1 - 5)
    np.testing.assert_array_equal(warped[inside], grey[(y + 2)[inside], (x + 3)[inside]])
    assert (warped[~inside] == 7).all()
    half = warp_to_previous(prev, grey, np.array([[1.0, 0, 0.5], [0, 1.0, 0], [0, 0, 1]]))
    mean = (grey[10, 20].astype(int) + grey[10, 21] + 1) // 2
    assert abs(int(half[10, 20]) - mean) <= 1


def test_camera_homography_puts_flow_pairs_before_keypoint_pairs(monkeypatch):
    # the authors' MergeMatch order (RANSAC samples by index, so the order changes the result)
    from baselines.video.dt.trajectories import camera_homography

    frames = pan_video(2, (120, 160), step=3)
    prev, grey = frames[0], frames[1]
    flow = np.zeros((120, 160, 2), np.float32)
    flow[..., 0] = 0.25  # rounded corner + flow, as MatchFromFlow
    orb = cv2.ORB_create(1000)
    seen = {}

    def spy(src, dst, *args):
        seen["src"], seen["dst"] = src, dst
        return np.eye(3), np.ones((len(src), 1), np.uint8)

    monkeypatch.setattr(cv2, "findHomography", spy)
    camera_homography(prev, flow, orb.detectAndCompute(prev, None), orb.detectAndCompute(grey, None))
    corners = cv2.goodFeaturesToTrack(prev, 1000, 0.001, 3).reshape(-1, 2)
    n = len(corners)
    assert len(seen["src"]) > n
    np.testing.assert_array_equal(seen["src"][:n], corners)
    np.testing.assert_array_equal(seen["dst"][:n], np.rint(corners) + np.float32(0.25) * np.array([1, 0], np.float32))


def _slow_object_video(n_frames: int = 32, size: int = 48, speed: float = 0.5) -> np.ndarray:
    """A still camera over a textured scene and a textured square drifting right at ``speed`` px/frame
    (sub-pixel shifts by bilinear warping): the quick profile's frame size and its objects' pace."""
    background = texture(size, size, seed=3)
    patch = texture(16, 16, seed=7)
    frames = []
    for t in range(n_frames):
        shift = np.float32([[1, 0, 6 + speed * t], [0, 1, 16]])
        sprite = cv2.warpAffine(patch, shift, (size, size), flags=cv2.INTER_LINEAR)
        inside = cv2.warpAffine(np.ones_like(patch), shift, (size, size), flags=cv2.INTER_NEAREST) > 0
        frames.append(np.where(inside, sprite, background))
    return np.stack(frames).astype(np.uint8)


def test_idt_keeps_a_slow_object_on_small_frames():
    # 0.5 px/frame on 48 rows is 2.5 px/frame on the authors' 240 rows: it moves against the still camera and
    # must not be dropped as camera motion (a fixed 1 px threshold dropped every track of such videos)
    rows = dense_trajectories(_slow_object_video(), DTParams(idt=True))
    assert len(rows) > 5, len(rows)
    traj = rows[:, COLS["traj"]].reshape(len(rows), -1, 2)
    assert np.median(traj[..., 0]) > 0.03  # what survives moves right, with the object


def test_idt_camera_motion_threshold_is_the_authors_1px_on_240_rows(monkeypatch):
    import baselines.video.dt.trajectories as trajectories

    seen = []
    original = trajectories.displacement_shape

    def spy(disp, min_motion=1.0):
        seen.append(min_motion)
        return original(disp, min_motion)

    monkeypatch.setattr(trajectories, "displacement_shape", spy)
    for rows in (240, 48):
        seen.clear()
        frames = pan_video(n_frames=17, size=(rows, 40))
        dense_trajectories(frames, DTParams(idt=True))
        assert seen and all(m == pytest.approx(rows / 240) for m in seen), (rows, set(seen))
