"""Faults and bad input: one clear line, a failed job row or a reported-and-excluded video, the rest goes on."""
from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmark import cli
from benchmark.common.cache import Cache, atomic_write_bytes
from benchmark.data.datasets import open_split
from benchmark.data.video import FrameSpec, VideoReadError, read_video
from benchmark.pipeline.config import RunConfig
from benchmark.pipeline.plan import plan_run
from benchmark.pipeline.run import decode_all, plan_tasks
from benchmark.pipeline.store import exclusive

CLASSES = ("Red", "Blue")
COLOURS = {"Red": (200, 30, 30), "Blue": (30, 30, 200)}  # RGB, so the two classes are learnable


def frames_of(cls: str, seed: int, n: int = 8, shape: tuple[int, int] = (32, 40)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.array(COLOURS[cls], np.int16)
    noise = rng.integers(-40, 40, (n, *shape, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_video(path: Path, frames: np.ndarray, grey: bool = False) -> None:
    """RGB frames (T, H, W, 3), or grey (T, H, W) with grey=True, as an MJPG .avi."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h), not grey)
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame if grey else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def make_bad_video(path: Path, kind: str, good: bytes) -> None:
    """One malformed video of the given kind at path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "corrupt":          # random bytes where a video should be
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes())
    elif kind == "truncated":      # a download cut short
        path.write_bytes(good[: len(good) // 3])
    elif kind == "zero-frame":     # a valid container with no frames in it
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (40, 32))
        writer.release()
    elif kind == "empty":          # a zero-byte file
        path.write_bytes(b"")
    elif kind == "unsupported-codec":  # the container names a codec no decoder knows
        assert good.count(b"MJPG") >= 1
        path.write_bytes(good.replace(b"MJPG", b"QZQZ"))
    elif kind == "unreadable":     # a dangling symlink (permissions do not stop root, who runs CI here)
        path.symlink_to(path.parent / "gone" / "nowhere.avi")
    elif kind == "directory":      # a folder where the file should be
        path.mkdir()
    elif kind == "not-a-video":
        path.write_text("this is a text file\n")
    else:
        raise ValueError(kind)


UNDECODABLE = ("corrupt", "truncated", "zero-frame", "empty", "unsupported-codec", "not-a-video")
NOT_A_FILE = ("unreadable", "directory")    # the dataset reader reports these as missing
BAD_KINDS = UNDECODABLE + NOT_A_FILE


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("good") / "good.avi"
    write_video(path, frames_of("Red", 0))
    return path.read_bytes()


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_a_bad_video_gives_one_clear_line(tmp_path, good_bytes, kind):
    path = tmp_path / f"bad-{kind}.avi"
    make_bad_video(path, kind, good_bytes)
    with pytest.raises(VideoReadError) as info:
        read_video(path, FrameSpec(short_side=32))
    message = str(info.value)
    assert path.name in message and "\n" not in message


def test_grey_huge_and_short_videos_are_read_at_the_profile_size(tmp_path):
    write_video(tmp_path / "grey.avi", frames_of("Red", 1)[..., 0], grey=True)
    write_video(tmp_path / "huge.avi", frames_of("Red", 2, n=2, shape=(1080, 1920)))
    write_video(tmp_path / "one.avi", frames_of("Red", 3, n=1))
    spec = FrameSpec(short_side=32, max_frames=16)
    grey = read_video(tmp_path / "grey.avi", spec)
    assert grey.shape == (8, 32, 40, 3) and grey.dtype == np.uint8
    assert np.array_equal(grey[..., 0], grey[..., 1])         # grey-scale comes back as equal channels
    assert read_video(tmp_path / "huge.avi", spec).shape == (2, 32, 57, 3)
    assert read_video(tmp_path / "one.avi", spec).shape == (1, 32, 40, 3)


# --- a dataset folder with every kind of bad video, run end to end ------------------------------

def make_dataset(root: Path, good: bytes) -> dict:
    """UCF101-layout folder: 2 classes, good train/test videos plus bad, odd and missing ones."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(CLASSES, 1)))
    train, test = [], []
    for label, cls in enumerate(CLASSES, 1):
        for g in range(1, 5):
            rel = f"{cls}/v_{cls}_g{g:02d}_c01.avi"
            write_video(root / rel, frames_of(cls, 10 * label + g))
            train.append(f"{rel} {label}")
        for g in (5, 6):
            rel = f"{cls}/v_{cls}_g{g:02d}_c01.avi"
            write_video(root / rel, frames_of(cls, 10 * label + g))
            test.append(rel)
    odd = {  # readable but unusual: they must be kept
        "Red/v_Red_g07_c01.avi": lambda p: write_video(p, frames_of("Red", 70)[..., 0], grey=True),
        "Blue/v_Blue_g07_c01.avi": lambda p: write_video(p, frames_of("Blue", 71, n=2, shape=(1080, 1920))),
        "Red/v_Red_g08_c01.avi": lambda p: write_video(p, frames_of("Red", 72, n=1)),   # shorter than any clip
        "Blue/v_Blue_g08_c01.avi": lambda p: write_video(p, frames_of("Blue", 73, n=2)),
    }
    for rel, write in odd.items():
        write(root / rel)
        test.append(rel)
    bad, not_a_file = [], []
    for i, kind in enumerate(BAD_KINDS):
        cls = CLASSES[i % 2]
        rel = f"{cls}/v_{cls}_g{20 + i:02d}_c01.avi"
        make_bad_video(root / rel, kind, good)
        (train.append(f"{rel} {i % 2 + 1}") if i % 2 else test.append(rel))
        (bad if kind in UNDECODABLE else not_a_file).append(rel)
    missing = ["Red/v_Red_g30_c01.avi", "Blue/v_Blue_g31_c01.avi"]
    train.append(f"{missing[0]} 1")
    test.append(missing[1])
    (lists / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (lists / "testlist01.txt").write_text("\n".join(test) + "\n")
    missing += not_a_file
    n_good_test = sum(1 for t in test if t not in bad and t not in missing)
    return {"bad": bad, "missing": missing, "n_good_test": n_good_test, "odd": list(odd)}


def test_decode_all_reports_and_excludes_bad_videos(tmp_path, good_bytes, capsys):
    info = make_dataset(tmp_path / "ds", good_bytes)
    data = decode_all(open_split(str(tmp_path / "ds"), 1, "smoke", Cache(tmp_path / "cache")), workers=1)
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(err) == 2                                    # one line for missing, one for undecodable
    assert f"{len(info['missing'])} videos listed" in err[0]
    assert f"{len(info['bad'])} of " in err[1] and "cannot be decoded" in err[1]
    kept = {str(p.relative_to(data.root)) for p in data.train.paths + data.test.paths}
    assert not kept & set(info["bad"] + info["missing"])
    assert set(info["odd"]) <= kept
    assert len(data.test) == info["n_good_test"]
    assert {Path(m).name for m in data.missing} == {Path(b).name for b in info["bad"] + info["missing"]}


def bench(args: list[str], cache: Path, **kwargs):
    env = {**os.environ, "BENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], env=env, capture_output=True, text=True,
                          errors="replace",
                          **kwargs)


def test_a_run_over_bad_videos_reports_them_and_goes_on(tmp_path, good_bytes):
    info = make_dataset(tmp_path / "ds", good_bytes)
    out = tmp_path / "out"
    proc = bench(["run", "--dataset", str(tmp_path / "ds"), "--profile", "smoke", "--methods", "feature-histograms",
                  "--workers", "2", "--out", str(out)], tmp_path / "cache", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "cannot be decoded and are left out" in proc.stderr and "are missing and left out" in proc.stderr
    conn = sqlite3.connect(out / "results.sqlite")
    try:
        [(status,)] = conn.execute("SELECT status FROM jobs").fetchall()
        [(n_predictions,)] = conn.execute("SELECT COUNT(*) FROM predictions").fetchall()
    finally:
        conn.close()
    assert status == "done"
    assert n_predictions == info["n_good_test"]


# --- split files, names -------------------------------------------------------------------------

SPLIT_FAULTS = {
    "bad train line": ("trainlist01.txt", "Red/v_Red_g01_c01.avi 1\nRed/v_Red_g02_c01.avi\n", "trainlist01.txt:2"),
    "label disagrees": ("trainlist01.txt", "Red/v_Red_g01_c01.avi 2\n", "trainlist01.txt:1"),
    "unknown class": ("testlist01.txt", "Green/v_Green_g01_c01.avi\n", "testlist01.txt:1"),
    "bad class index": ("classInd.txt", "1 Red\ntwo Blue\n", "classInd.txt:2"),
    "class index gap": ("classInd.txt", "1 Red\n3 Blue\n", "classInd.txt"),
    "test line with label": ("testlist01.txt", "Red/v_Red_g05_c01.avi 1\n", "testlist01.txt:1"),
    "missing split file": ("testlist01.txt", None, "testlist01.txt: split file not found"),
}


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = cli.main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, err


@pytest.mark.parametrize("fault", list(SPLIT_FAULTS))
def test_a_bad_split_file_gives_one_clear_line(tmp_path, good_bytes, capsys, fault):
    make_dataset(tmp_path / "ds", good_bytes)
    name, content, expected = SPLIT_FAULTS[fault]
    path = tmp_path / "ds" / "ucfTrainTestlist" / name
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    code, err = run_cli(["run", "--dataset", str(tmp_path / "ds"), "--profile", "smoke", "--out",
                         str(tmp_path / "out")], capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("bench: error: ") and expected in err[0], err


@pytest.mark.parametrize("args, expected", [
    (["--methods", "no-such-method"], "unknown method 'no-such-method'; valid: "),
    (["--dataset", "/no/such/dataset"], "unknown dataset '/no/such/dataset'; valid: "),
    (["--dataset", "kinetics-400"], "unknown dataset 'kinetics-400'; valid: "),
    (["--profile", "huge"], "unknown profile 'huge'; valid: "),
    (["--executor", "spark"], "unknown executor 'spark'; valid: "),
    (["--split", "4"], "unknown split '4'; valid: "),
])
def test_unknown_names_give_one_clear_line(tmp_path, capsys, args, expected):
    code, err = run_cli(["run", *args, "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"bench: error: {expected}"), err


# --- the disk filling during a cache write ------------------------------------------------------

def _disk_full_after(nbytes: int):
    """A stand-in for np.savez that writes nbytes, then fails as a full disk does."""
    def savez(handle, **arrays):
        handle.write(b"\x93NUMPY" + bytes(nbytes))
        raise OSError(errno.ENOSPC, "No space left on device")
    return savez


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("where", ["savez", "fsync", "replace"])
def test_a_full_disk_leaves_no_partial_cache_file(tmp_path, monkeypatch, where):
    cache = Cache(tmp_path / "cache")
    key = {"video": "x", "where": where}
    arrays = {"frames": np.arange(1000, dtype=np.uint8)}
    with monkeypatch.context() as patch:
        if where == "savez":
            patch.setattr(np, "savez", _disk_full_after(4096))
        else:
            def fail(*args, **kwargs):
                raise OSError(errno.ENOSPC, "No space left on device")
            patch.setattr(os, where, fail)
        with pytest.raises(OSError, match="No space left"):
            cache.arrays("frames", key, lambda: arrays)
        assert _files_under(tmp_path / "cache") == []       # neither the artefact nor a temporary file
    # space is back: the same call computes and stores the artefact, and it reads back whole
    assert np.array_equal(cache.arrays("frames", key, lambda: arrays)["frames"], arrays["frames"])
    assert np.array_equal(cache.arrays("frames", key, lambda: pytest.fail("recomputed"))["frames"], arrays["frames"])
    assert len(_files_under(tmp_path / "cache")) == 1


def test_a_full_disk_during_atomic_write_bytes_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "artefacts" / "model.bin"
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
        with pytest.raises(OSError):
            atomic_write_bytes(target, b"x" * 10000)
    assert _files_under(tmp_path / "artefacts") == []


def test_a_full_disk_during_a_job_fails_that_job_with_a_clear_reason(tmp_path, monkeypatch, capsys):
    from benchmark.pipeline.runner import execute

    config = RunConfig(suite="video", dataset=None, splits=(1,), methods=("feature-histograms",), profile="smoke",
                       seeds=1, out=tmp_path / "out", device="cpu", executor="local", workers=1)
    [task] = plan_tasks(plan_run(config, Cache()))
    # the job's own cache (features, frames at another size) lives on a disk that is now full
    fresh = Cache(tmp_path / "full-disk")
    data = task.data
    task = replace(task, data=replace(data, train=replace(data.train, cache=fresh),
                                      test=replace(data.test, cache=fresh)))
    monkeypatch.setattr(np, "savez", _disk_full_after(100))
    result = execute(task)
    assert result.status == "failed"
    assert "No space left on device" in result.error and "\n" not in result.error
    assert _files_under(tmp_path / "full-disk") == []


# --- a worker dying mid-task --------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_local_worker_dying_mid_job_fails_that_job_and_the_run_goes_on(tmp_path):
    from benchmark.pipeline.executors import LocalExecutor

    config = RunConfig(suite="video", dataset=None, splits=(1,), methods=("feature-histograms",), profile="smoke",
                       seeds=2, out=tmp_path / "out", device="cpu", executor="local", workers=1)
    tasks = plan_tasks(plan_run(config, Cache()))
    assert len(tasks) == 2
    killed: list[int] = []

    def kill_first_job_worker():  # as the OOM killer would: SIGKILL to the process running the job
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for server in _children(os.getpid()):
                if "forkserver" in _cmdline(server):
                    for worker in _children(server):
                        os.kill(worker, signal.SIGKILL)
                        killed.append(worker)
                        return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_first_job_worker, daemon=True)
    killer.start()
    executor = LocalExecutor()
    try:
        results = list(executor.run(tasks))
    finally:
        executor.close()
    killer.join(timeout=1)
    assert killed, "the test never saw a job worker to kill"
    assert [r.status for _, r in results] == ["failed", "done"]
    assert "worker process died" in results[0][1].error


# --- two runs on one output directory -----------------------------------------------------------

def test_a_second_run_on_a_held_out_dir_refuses_with_a_clear_line(tmp_path, capsys):
    out = tmp_path / "out"
    with exclusive(out):
        code, err = run_cli(["run", "--profile", "smoke", "--methods", "feature-histograms", "--out", str(out)],
                            capsys)
    assert code == 2
    assert len(err) == 1 and "is in use by another bench run (pid" in err[0], err
    assert not (out / "results.sqlite").exists()            # the refused run touched nothing


def test_two_concurrent_runs_on_one_out_dir(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["run", "--profile", "smoke", "--methods", "feature-histograms", "--workers", "1", "--out", str(out)]
    env = {**os.environ, "BENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "benchmark.cli", *args], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, errors="replace")
    try:
        deadline = time.monotonic() + 60
        while not ((out / ".lock").is_file() and (out / ".lock").read_text().startswith("pid")):
            assert time.monotonic() < deadline and first.poll() is None, "the first run never took the lock"
            time.sleep(0.05)
        second = bench(args, cache, timeout=120)
        first_still_running = first.poll() is None
        first_out, first_err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first_still_running, "the first run ended before the second one tried: no overlap was tested"
    assert second.returncode == 2
    err = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and f"is in use by another bench run (pid {first.pid})" in err[0], err
    assert first.returncode == 0, first_err[-2000:]
    conn = sqlite3.connect(out / "results.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*), MIN(finished IS NOT NULL) FROM runs").fetchone() == (1, 1)
        assert conn.execute("SELECT status FROM jobs").fetchall() == [("done",)]
        assert conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] > 0
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [2, 4, 16])
def test_every_decode_worker_gets_work_on_a_small_set(workers):
    from benchmark.pipeline.run import decode_chunksize

    for n in range(1, 400):
        size = decode_chunksize(n, workers)
        tasks = -(-n // size)
        assert 1 <= size <= 8
        assert tasks >= min(n, workers), (n, workers, size)   # 8 videos in one task of 8 left a worker idle
