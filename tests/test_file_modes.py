"""Files the package writes (atomically, through a temporary file) get the permissions the umask allows."""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager

import pytest

from benchmark.common.cache import atomic_save_npz, atomic_write, atomic_write_bytes
from benchmark.pipeline.store import Store
from benchmark.reports.report import write_reports


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """A store with one failed video job: enough for `bench report` to write its tables."""
    out = tmp_path_factory.mktemp("run")
    store = Store(out)
    run_id = store.start_run("bench run (test)", {}, {}, "t0")
    store.record(run_id, {"job_key": "k", "suite": "video", "dataset": "toy", "split": 1, "method": "c3d",
                          "profile": "smoke", "seed": 0, "device": "cpu", "code_version": "t"},
                 "failed", None, "ValueError: bad input", {}, "t0", "t1")
    store.close()
    return out


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_files_follow_the_umask(tmp_path, mask, expected):
    with umask(mask):
        atomic_write_bytes(tmp_path / "a" / "result.json", b"{}")
        atomic_save_npz(tmp_path / "a" / "features.npz", x=[1, 2])
    assert mode(tmp_path / "a" / "result.json") == expected
    assert mode(tmp_path / "a" / "features.npz") == expected
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["features.npz", "result.json"]  # no temp left


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    def write(handle):
        handle.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "out.bin", write)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600)])
def test_report_files_follow_the_umask(failed_run, tmp_path, mask, expected):
    with umask(mask):
        written = write_reports([failed_run], tmp_path / "reports")
    assert written and {path.name: mode(path) for path in written} == {path.name: expected for path in written}
