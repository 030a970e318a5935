"""``bench features dt``: exact fast text output, binary outputs, atomic writes, many videos, lean imports."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from baselines.video.dt import format as dt_format
from baselines.video.dt.format import _printf_rows, format_rows, read_dt
from benchmark.cli import main
from test_dt_encoding import moving_texture, write_avi

ROOT = Path(__file__).resolve().parents[1]


def test_compiled_text_is_byte_for_byte_printf(monkeypatch):
    rng = np.random.default_rng(0)
    n = 400
    rows = np.empty((n, 436), np.float32)
    rows[:, 0] = rng.integers(0, 100_000, n)
    rows[:, 1:40] = rng.standard_normal((n, 39)) * 10.0 ** rng.uniform(-8, 7, (n, 39))
    rows[:5, 1:40] = -0.0
    rows[5:10, 1:40] = np.float32(-1e-9)                       # "-0.000000", as printf
    rows[10:20, 1:40] = np.arange(1, 40) / 256.0 * np.where(np.arange(39) % 2, 1, -1)  # ties at 6 decimals
    rows[:, 40:] = rng.uniform(0, 1, (n, 396))
    rows[20:30, 40:] = 1.0
    rows[30:40, 40:] = 0.0
    rows[40:50, 40:] = rng.integers(0, 256, (10, 396)) / 256   # ties at 7 decimals: half to even
    rows[50:54, 0] = (-0.0, -0.5, -3.0, 9_999_999)              # %d truncates: "0", "0", "-3"
    expected = _printf_rows(rows, 30)
    with monkeypatch.context() as patch:  # these rows must take the compiled formatter, not the fallback
        patch.setattr(dt_format, "_printf_rows", lambda *a: pytest.fail("fell back to the per-row printf"))
        assert format_rows(rows) == expected
    odd = rows[:3].copy()
    odd[0, 50] = 1.5        # outside [0, 1]: the per-row printf path
    odd[1, 3] = np.nan
    odd[2, 4] = 3e9
    assert format_rows(odd) == _printf_rows(odd, 30)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    for i in range(3):
        (root / ("sub" if i == 2 else "")).mkdir(exist_ok=True)
        write_avi(root / ("sub" if i == 2 else "") / f"c{i}.avi", moving_texture(+1 if i % 2 else -1, seed=i))
    return root


def test_bad_video_never_truncates_an_existing_output(tmp_path, capsys):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"not a video" * 100)
    for video in (bad, tmp_path / "missing.avi"):
        assert main(["features", "dt", str(video), "-o", str(precious)]) == 2
        assert precious.read_text() == "keep me\n"
    assert "bench features:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.avi", "precious.txt"]  # no temp file left


def test_single_video_formats_agree(tmp_path, clips):
    video = clips / "c0.avi"
    for suffix in ("txt", "npy", "npz"):
        assert main(["features", "dt", str(video), "-o", str(tmp_path / f"out.{suffix}")]) == 0
    text = read_dt(tmp_path / "out.txt")
    rows = np.load(tmp_path / "out.npy")
    assert rows.dtype == np.float32 and rows.shape == text.shape and len(rows) > 0
    assert (tmp_path / "out.txt").read_bytes() == format_rows(rows)
    blocks = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(np.concatenate([blocks[k] for k in
                                                  ("header", "traj", "hog", "hof", "mbhx", "mbhy")], axis=1), rows)


def test_folder_and_list_in_parallel_workers_resume(tmp_path, clips, capsys):
    out = tmp_path / "features"
    assert main(["features", "dt", str(clips), "-o", str(out), "--workers", "2"]) == 0
    outputs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt"))
    assert outputs == ["c0.txt", "c1.txt", "sub/c2.txt"]
    single = tmp_path / "single.txt"
    assert main(["features", "dt", str(clips / "sub" / "c2.avi"), "-o", str(single)]) == 0
    assert (out / "sub" / "c2.txt").read_bytes() == single.read_bytes()
    stamp = (out / "c0.txt").stat().st_mtime_ns
    (out / "c1.txt").unlink()                      # as if killed before c1 was complete
    capsys.readouterr()
    assert main(["features", "dt", str(clips), "-o", str(out), "--workers", "2"]) == 0
    assert "2 of 3 videos already extracted, 1 to go" in capsys.readouterr().err
    assert (out / "c0.txt").stat().st_mtime_ns == stamp and (out / "c1.txt").is_file()
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{clips / 'c0.avi'}\nmissing.avi\n")
    npy = tmp_path / "npy"
    assert main(["features", "dt", str(listing), "-o", str(npy), "--format", "npy", "--workers", "1"]) == 1
    assert [p.name for p in npy.iterdir()] == ["c0.npy"]     # the missing video failed, alone
    assert main(["features", "dt", str(clips)]) == 2       # several videos need -o DIR


def _modules_after(args: list[str]) -> set[str]:
    code = ("import sys, json\nfrom benchmark.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_help_and_dense_trajectories_import_no_unused_library(tmp_path, clips):
    heavy = {"torch", "pandas", "sklearn"}
    assert not heavy & _modules_after(["--help"])
    assert not (heavy | {"cv2", "scipy"}) & _modules_after(["features", "--help"])
    extracted = _modules_after(["features", "dt", str(clips / "c0.avi"), "-o", str(tmp_path / "o.txt")])
    assert "cv2" in extracted and not heavy & extracted


def test_bench_list_imports_no_torch():
    """The registries name the deep models without importing them (each build imports its own module)."""
    for what in ("methods", "datasets", "suites", "profiles"):
        assert "torch" not in _modules_after(["list", what]), what
    assert not {"torch", "pandas", "sklearn", "cv2", "scipy"} & _modules_after(["list", "datasets"])


def test_registry_names_the_two_stream_rows_it_does_not_import():
    from benchmark.registry import video_methods
    from deep.video.two_stream import VARIANTS

    assert video_methods()["two-stream"].variants == VARIANTS
