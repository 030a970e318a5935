"""Content-addressed on-disk cache for expensive per-video artefacts (frames, flow, features).

Every write goes to a temporary file in the same directory and is moved into place with
``os.replace``, so a killed process or a full disk never leaves a partial artefact behind. Every atomic
file write of the package (cache artefacts, checkpoints, reports, baselines) goes through ``atomic_write``.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Callable

import numpy as np


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-serialisable object, independent of dict ordering."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file beside ``path``, opened for writing.

    Created with mode 0666 so that the umask decides its permissions, as for any file the user writes
    (0644 under umask 022); ``tempfile.mkstemp`` makes 0600 files, which ``os.replace`` would carry over.
    A 48-bit random name and O_EXCL: a clash raises instead of sharing a file.
    """
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    return os.open(tmp, flags, 0o666), tmp


def atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Write through ``write(handle)`` into a temporary file, fsync, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda handle: handle.write(data))


def atomic_save_npz(path: Path, compress: bool = False, **arrays: np.ndarray) -> None:
    save = np.savez_compressed if compress else np.savez
    atomic_write(path, lambda handle: save(handle, **arrays))


def default_cache_dir() -> Path:
    """``$BENCH_CACHE`` if set, else ``~/.cache/cvbench``."""
    env = os.environ.get("BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "cvbench"


class Cache:
    """Artefacts keyed by (kind, parameters); shared by every method that needs the same thing."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def path(self, kind: str, key: dict[str, Any], suffix: str = ".npz") -> Path:
        digest = stable_hash(key, length=24)
        return self.root / kind / digest[:2] / f"{digest}{suffix}"

    def arrays(
        self, kind: str, key: dict[str, Any], compute: Callable[[], dict[str, np.ndarray]], compress: bool = False
    ) -> dict[str, np.ndarray]:
        """Load the arrays cached under (kind, key), computing and storing them (zip-deflated if
        ``compress``) on a miss."""
        path = self.path(kind, key)
        if path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    return {name: data[name] for name in data.files}
            except (OSError, ValueError, EOFError):
                path.unlink(missing_ok=True)  # unreadable artefact: recompute it
        arrays = compute()
        atomic_save_npz(path, compress, **arrays)
        return arrays

    def file(self, kind: str, key: dict[str, Any], compute: Callable[[], dict[str, np.ndarray]],
             compress: bool = False) -> Path:
        """The path of the artefact under (kind, key), computed and stored first on a miss; nothing is loaded
        (the caller reads the members it needs)."""
        path = self.path(kind, key)
        if not path.exists():
            atomic_save_npz(path, compress, **compute())
        return path
