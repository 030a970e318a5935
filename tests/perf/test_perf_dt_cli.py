"""Issue 12's figures for ``bench features dt``: whole-process CPU against the Farnebäck floor, start-up,
text output speed, the DIS mode's fidelity and speed, and iDT's cost.

One command reproduces them all (on an idle machine; the CPU figures are single-threaded)::

    flock /tmp/cvbench-heavy.lock pytest -m perf tests/perf/test_perf_dt_cli.py -s

Each test prints one ``FIGURE`` line and asserts the issue's goal. CPU seconds are user + system of the
whole child process (``getrusage(RUSAGE_CHILDREN)``). Each of ``DT_PERF_ROUNDS`` rounds (default 3) times
the floor and every mode back to back; a ratio is the median of the per-round ratios.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.perf

ROOT = Path(__file__).resolve().parents[2]
CLIPS = {"kth": "person01_boxing_d1_uncomp.avi", "bowling": "v_Bowling_g01_c01.avi"}
MAX_RATIO = {"kth": 1.6, "bowling": 2.4}          # bench features dt / Farnebäck floor
ROUNDS = int(os.environ.get("DT_PERF_ROUNDS", "3"))
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# `bench ARGS` with OpenCV on one thread (the cv2 import is one the command makes anyway)
BENCH_ONE_THREAD = ("import sys, cv2; cv2.setNumThreads(1); from benchmark.cli import main; "
                    "sys.exit(main(sys.argv[1:]))")
_cache: dict = {}


def _child_cpu(args: list[str]) -> float:
    """CPU seconds (user + system) of one child process running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, cwd=ROOT, env={**os.environ, **ONE_THREAD}, check=True, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _bench_cpu(video: Path, out: Path, *flags: str) -> float:
    return _child_cpu([sys.executable, "-c", BENCH_ONE_THREAD, "features", "dt", str(video), "-o", str(out), *flags])


def _floor_cpu(greys: list[np.ndarray]) -> float:
    """cv2.calcOpticalFlowFarneback with the DT settings once per frame pair, one thread, decoding excluded."""
    from baselines.video.dt.optical_flow import farneback

    start = time.process_time()
    for a, b in zip(greys[:-1], greys[1:]):
        farneback(a, b)
    return time.process_time() - start


MODES = {"farneback": [], "dis": ["--flow", "dis"], "idt": ["--idt"]}


def _record_flows(greys: list[np.ndarray], flow_dir: Path) -> None:
    """Save the per-level flows the Farnebäck mode computes for a video's grey frames (for
    ``dt_replayed_flow.py``)."""
    from baselines.video.dt import trajectories

    recorded: list[list[np.ndarray]] = []

    class Recording(trajectories._FlowEngine):
        def flows(self, prev_state, state):
            out = super().flows(prev_state, state)
            recorded.append([level.copy() for level in out])
            return out

    engine, trajectories._FlowEngine = trajectories._FlowEngine, Recording
    try:
        trajectories.dense_trajectories(greys)
    finally:
        trajectories._FlowEngine = engine
    flow_dir.mkdir(exist_ok=True)
    for k in range(len(recorded[0])):
        np.save(flow_dir / f"level{k}.npy", np.stack([pyramid[k] for pyramid in recorded]))


def _replayed_flow_cpu(flow_dir: Path, video: Path, out: Path) -> float:
    """CPU seconds of ``bench features dt`` with its flow replayed, less the reading of the flow files."""
    total = _child_cpu([sys.executable, str(ROOT / "tests" / "perf" / "dt_replayed_flow.py"), str(flow_dir),
                        str(video), "-o", str(out)])
    return total - float((flow_dir / "load_cpu.txt").read_text())


def _measurements(shared_data: Path, tmp: Path, clip: str) -> tuple[dict[str, list[float]], dict[str, Path]]:
    """CPU seconds per round of the floor and of each mode, interleaved round by round.

    The machine's speed drifts by up to 1.8x within an hour, so every ratio below pairs the
    measurements of one round (taken within a minute of each other) and reports the median of
    the per-round ratios, not a ratio of medians taken minutes apart.
    """
    if clip not in _cache:
        import cv2

        from benchmark.data.video import iter_frames

        cv2.setNumThreads(1)
        video = shared_data / "videos" / CLIPS[clip]
        greys = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in iter_frames(video)]
        outs = {mode: tmp / f"{clip}-{mode}.npy" for mode in (*MODES, "replay")}
        flow_dir = tmp / f"{clip}-flows"
        _record_flows(greys, flow_dir)
        cpu: dict[str, list[float]] = {"floor": [], "replay": [], **{mode: [] for mode in MODES}}
        for _ in range(ROUNDS):
            cpu["floor"].append(_floor_cpu(greys))
            for mode, flags in MODES.items():
                cpu[mode].append(_bench_cpu(video, outs[mode], *flags))
            cpu["replay"].append(_replayed_flow_cpu(flow_dir, video, outs["replay"]))
        _cache[clip] = (cpu, outs)
    return _cache[clip]


def _ratio(cpu: dict[str, list[float]], num: str, den: str) -> float:
    return statistics.median(n / d for n, d in zip(cpu[num], cpu[den]))


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dt-perf")


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_whole_process_against_the_farneback_floor(shared_data, tmp, clip):
    cpu, _ = _measurements(shared_data, tmp, clip)
    ratio = _ratio(cpu, "farneback", "floor")
    print(f"\nFIGURE {clip}: bench features dt {statistics.median(cpu['farneback']):.2f} s CPU, Farnebäck floor "
          f"{statistics.median(cpu['floor']):.2f} s, ratio {ratio:.2f} (per round "
          + ", ".join(f"{n / d:.2f}" for n, d in zip(cpu["farneback"], cpu["floor"]))
          + f"; goal <= {MAX_RATIO[clip]})")
    assert ratio <= MAX_RATIO[clip]


def test_help_start_up_against_importing_numpy():
    numpy = min(_child_cpu([sys.executable, "-c", "import numpy"]) for _ in range(5))
    bench = min(_child_cpu([sys.executable, "-m", "benchmark.cli", "--help"]) for _ in range(5))
    print(f"\nFIGURE start-up: bench --help {bench * 1e3:.0f} ms CPU, import numpy {numpy * 1e3:.0f} ms, "
          f"ratio {bench / numpy:.2f} (goal <= 3)")
    assert bench <= 3 * numpy


def test_text_output_rows_per_second(shared_data, tmp):
    """Rows written per CPU second to a file in the authors' text format (formatting and the writes)."""
    from baselines.video.dt.format import format_rows, write_dt

    _, outs = _measurements(shared_data, tmp, "bowling")
    rows = np.load(outs["farneback"])
    write_dt(rows[:2], tmp / "warm-up.txt")  # the compiled formatter's one-off load from its cache
    runs = []
    for _ in range(ROUNDS):
        start = time.process_time()
        write_dt(rows, tmp / "bowling.txt")
        runs.append(time.process_time() - start)
    size = (tmp / "bowling.txt").stat().st_size
    assert (tmp / "bowling.txt").read_bytes()[:100_000] == format_rows(rows[:30])[:100_000]
    rate = len(rows) / statistics.median(runs)
    print(f"\nFIGURE text output: {rate:,.0f} rows/s written ({len(rows)} rows, {size / 1e6:.0f} MB; goal >= 200,000)")
    assert rate >= 200_000


def _bow_chi2(reference: np.ndarray, other: np.ndarray, n_words: int = 64) -> dict[str, float]:
    """Per channel: χ² distance between the L1 bags of words of two trajectory sets (codebook: reference)."""
    from sklearn.cluster import KMeans

    from baselines.video.dt.trajectories import column_slices

    out = {}
    for name, cols in column_slices().items():
        if name == "header":
            continue
        sample = np.random.default_rng(0).permutation(len(reference))[:10_000]
        words = KMeans(n_words, n_init=1, random_state=0).fit(reference[sample][:, cols])
        hist = [np.bincount(words.predict(x[:, cols]), minlength=n_words) / len(x) for x in (reference, other)]
        total = hist[0] + hist[1]
        nz = total > 0
        out[name] = float(0.5 * (((hist[0] - hist[1]) ** 2)[nz] / total[nz]).sum())
    return out


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_what_the_flow_leaves(shared_data, tmp, clip):
    """The extractor with its flow replayed from files: the bound any flow method or speed-up of the flow meets.

    Without the flow the process still costs ``replay``; so no flow makes the Farnebäck mode more than
    farneback / replay times faster (the DIS goal asks 2x of a mode that keeps >= 90% of the trajectories,
    so about the same tracking and descriptor work), and the ratio to the floor cannot drop below
    replay / floor (the KTH goal asks 1.6) unless the flow pyramid costs less than nothing. iDT computes
    the pyramid a second time, on the camera-warped frame (the authors' DenseTrackStab does too), so
    iDT / DT is at least 1 + (farneback - replay) / farneback before any camera-motion work.
    """
    cpu, outs = _measurements(shared_data, tmp, clip)
    assert np.array_equal(np.load(outs["replay"]), np.load(outs["farneback"]))  # the replay is faithful
    bound = _ratio(cpu, "farneback", "replay")
    idt_floor = statistics.median(2 - r / f for f, r in zip(cpu["farneback"], cpu["replay"]))
    rest = _ratio(cpu, "replay", "floor")
    print(f"\nFIGURE {clip} without its flow: {statistics.median(cpu['replay']):.2f} s CPU of "
          f"{statistics.median(cpu['farneback']):.2f} s, so at most {bound:.2f}x faster with free flow (per round "
          + ", ".join(f"{n / d:.2f}" for n, d in zip(cpu["farneback"], cpu["replay"]))
          + f"); the rest alone is {rest:.2f} of the floor, leaving the flow pyramid "
          f"{MAX_RATIO[clip] - rest:.2f} of the floor for a total of {MAX_RATIO[clip]}; iDT's second flow pyramid "
          f"alone makes iDT at least {idt_floor:.2f}x DT")
    # README's claim that no flow can meet the DIS mode's 2x goal rests on this; it fails once that changes
    assert bound < 2


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_dis_mode_keeps_the_trajectories_and_is_faster(shared_data, tmp, clip):
    cpu, outs = _measurements(shared_data, tmp, clip)
    fb, dis = np.load(outs["farneback"]), np.load(outs["dis"])
    chi2 = _bow_chi2(fb, dis)
    speed_up = _ratio(cpu, "farneback", "dis")
    print(f"\nFIGURE {clip} DIS: {len(dis)} of {len(fb)} trajectories ({len(dis) / len(fb):.2f}, goal >= 0.9), "
          f"{statistics.median(cpu['dis']):.2f} s vs {statistics.median(cpu['farneback']):.2f} s CPU "
          f"({speed_up:.2f}x, goal >= 2), BoW χ² " + ", ".join(f"{k} {v:.3f}" for k, v in chi2.items())
          + " (goal <= 0.05)")
    assert len(dis) >= 0.9 * len(fb)
    assert speed_up >= 2
    assert max(chi2.values()) <= 0.05


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_idt_cost(shared_data, tmp, clip):
    cpu, _ = _measurements(shared_data, tmp, clip)
    ratio = _ratio(cpu, "idt", "farneback")
    print(f"\nFIGURE {clip} iDT: {statistics.median(cpu['idt']):.2f} s vs DT {statistics.median(cpu['farneback']):.2f} s "
          f"CPU ({ratio:.2f}x, per round " + ", ".join(f"{n / d:.2f}" for n, d in zip(cpu["idt"], cpu["farneback"]))
          + "; goal <= 1.5)")
    assert ratio <= 1.5
