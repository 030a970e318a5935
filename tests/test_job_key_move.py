"""Job keys survive the package move of issue 25: every hashed file is hashed as it read before the move
(``benchmark/pipeline/moves.py``), so a run stored by the flat layout finds its jobs done; a real edit still
changes the key."""
from __future__ import annotations

import hashlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from benchmark.pipeline import moves, plan
from benchmark.registry import density_methods, video_methods

ROOT = Path(__file__).resolve().parents[1]
# the files code_version reads: the checkout, or site-packages when tox installs the package
SOURCE = plan.PROJECT_ROOT
BEFORE_MOVE = "9a82bb5"    # the last commit of the flat layout
SPECS = {**video_methods(), **density_methods()}


def hashed_files(spec) -> list[str]:
    """Paths, relative to the project root, of the files ``plan.code_version(spec)`` hashes."""
    files = {Path(inspect.getsourcefile(spec.build)).resolve().relative_to(SOURCE.resolve()).as_posix(), *plan.HARNESS_FILES}
    return sorted(files | {f for f in spec.code_files if f.endswith(".py")})


def flat_code_version(root: Path, relpaths: list[str]) -> str:
    """``code_version`` as the flat layout computed it: raw bytes, files in sorted path order."""
    digest = hashlib.sha256()
    for path in sorted(str(root / rel) for rel in relpaths):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("name", ["feature-histograms", "dt-bow-svm", "c3d", "pixelcnn", "planted-copies"])
def test_a_pure_move_keeps_the_code_version(name, tmp_path):
    spec = SPECS[name]
    files = hashed_files(spec)
    for rel in files:    # the same files moved back and spelt as before: a pure move
        target = tmp_path / moves.old_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(moves.as_before_move((SOURCE / rel).read_bytes()))
    old_paths = [moves.old_path(rel) for rel in files]
    assert old_paths != files, "the move leaves every hashed file in place: nothing is tested"
    assert flat_code_version(tmp_path, old_paths) == plan.code_version(spec)


def test_no_hashed_file_spells_a_moved_module_or_renamed_name_as_before():
    """Otherwise two different texts could hash alike: the old spelling must be gone from the new layout."""
    old = {old for new, old in moves.MOVED.items()} | {o.removesuffix(".py").replace("/", ".")
                                                        for o in moves.MOVED.values()} | set(moves.RENAMED.values())
    pattern = re.compile(r"(?<![\w./])(" + "|".join(map(re.escape, sorted(old, key=len, reverse=True))) + r")(?![\w])")
    files = {rel for spec in SPECS.values() for rel in hashed_files(spec)}
    found = {rel: sorted(set(pattern.findall((SOURCE / rel).read_text()))) for rel in sorted(files)}
    assert {rel: names for rel, names in found.items() if names} == {}


@pytest.mark.parametrize("rel, before, after", [
    ("benchmark/pipeline/runner.py", b"benchmark.pipeline.outcome", b"benchmark.pipeline.outcomf"),
    ("benchmark/data/datasets.py", b"from benchmark.common.cache", b"from benchmark.common.cachf"),
    ("benchmark/data/splits.py", b"GROUP_PATTERN.search", b"GROUP_PATTERM.search"),
    ("benchmark/pipeline/metrics.py", b"import numpy as np", b"import numpy as nq"),
])
def test_a_one_character_edit_of_a_hashed_file_changes_the_code_version(rel, before, after, tmp_path, monkeypatch):
    spec = SPECS["dt-bow-svm"]
    for f in hashed_files(spec):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SOURCE / f, tmp_path / f)
    monkeypatch.setattr(plan, "PROJECT_ROOT", tmp_path)
    unchanged = plan.code_version(spec)
    source = (tmp_path / rel).read_bytes()
    assert before in source
    (tmp_path / rel).write_bytes(source.replace(before, after, 1))
    assert plan.code_version(spec) != unchanged


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, timeout=60)


def test_a_run_stored_by_the_flat_layout_resumes_with_every_job_done(tmp_path):
    """End to end: a smoke run made by the code of the last flat commit, rerun by this checkout."""
    if shutil.which("git") is None or _git("cat-file", "-e", f"{BEFORE_MOVE}^{{commit}}").returncode != 0:
        pytest.skip(f"needs git and the commit {BEFORE_MOVE} (the flat layout)")
    spec = SPECS["feature-histograms"]
    edited = [rel for rel in hashed_files(spec) if moves.as_before_move((SOURCE / rel).read_bytes())
              != _git("show", f"{BEFORE_MOVE}:{moves.old_path(rel)}").stdout]
    if edited:
        pytest.skip(f"edited since the move (their keys changed on purpose): {', '.join(edited)}")
    flat = tmp_path / "flat"
    flat.mkdir()
    archive = _git("archive", "--format=tar", BEFORE_MOVE, "benchmark", "baselines", "deep")
    archive_path = tmp_path / "flat.tar"
    archive_path.write_bytes(archive.stdout)
    with tarfile.open(archive_path) as tar:
        tar.extractall(flat, filter="data")
    out = tmp_path / "run"
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "benchmark.cli", "run", "--profile", "smoke", "--methods", "feature-histograms",
               "--out", str(out), "--workers", "1"]
    before = subprocess.run(command, cwd=flat, env={**env, "PYTHONPATH": str(flat)}, capture_output=True,
                            text=True, timeout=600)
    assert before.returncode == 0, before.stderr[-2000:]
    where = subprocess.run([sys.executable, "-c", "import benchmark.plan as p; print(p.__file__)"], cwd=flat,
                           env={**env, "PYTHONPATH": str(flat)}, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip().startswith(str(flat))     # the first run really ran the flat layout
    after = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert after.returncode == 0, after.stderr[-2000:]
    assert "1 of 1 jobs already done" in after.stdout + after.stderr
