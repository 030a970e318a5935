"""The results store: SQLite in the output directory, one writer (the driver), WAL journal.

A job's result (its row, result rows and per-item predictions) is written in one transaction, so a
killed process leaves either the whole job or nothing of it. ``schema_version`` in ``meta`` drives
migrations when the schema changes.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from benchmark.pipeline.outcome import JobOutcome
from benchmark.pipeline.protocol import check_scored_on_trained_split

if TYPE_CHECKING:  # imported where a frame is built: `bench` start-up does not pay for pandas
    import pandas as pd

STORE_NAME = "results.sqlite"
LOCK_NAME = ".lock"   # held by the one `bench run` writing the directory
SCHEMA_VERSION = 1

# MIGRATIONS[v] brings a store at version v to v + 1.
MIGRATIONS: dict[int, str] = {
    0: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT, finished TEXT,
        command TEXT, config TEXT, provenance TEXT);
    CREATE TABLE jobs (
        job_key TEXT PRIMARY KEY, run_id INTEGER, suite TEXT, dataset TEXT, split INTEGER,
        method TEXT, profile TEXT, seed INTEGER, device TEXT, params TEXT, code_version TEXT,
        status TEXT NOT NULL, error TEXT, timings TEXT, costs TEXT, artefacts TEXT,
        provenance TEXT, started TEXT, finished TEXT, attempts INTEGER DEFAULT 1);
    CREATE TABLE rows (
        job_key TEXT NOT NULL, variant TEXT NOT NULL, metrics TEXT NOT NULL,
        PRIMARY KEY (job_key, variant));
    CREATE TABLE predictions (
        job_key TEXT NOT NULL, variant TEXT NOT NULL, idx INTEGER NOT NULL, item TEXT,
        grp INTEGER, label INTEGER, pred INTEGER, payload TEXT,
        PRIMARY KEY (job_key, variant, idx));
    """,
}


class StoreBusyError(RuntimeError):
    """Another ``bench run`` holds this output directory."""


class StoreError(ValueError):
    """A results store that cannot be used (damaged, not a store, newer schema): one line naming the file."""


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _text(value: Any) -> Any:
    """SQLite wants valid UTF-8: a name with undecodable bytes (surrogate escapes) is stored escaped."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def _guarded(method):
    """SQLite errors from a damaged file become one StoreError line that names the file."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot use the results store ({exc}); if it is damaged, "
                             f"move it aside or use another --out") from None
    return wrapper


def check_out_dir(out_dir: Path | str) -> Path:
    """An output directory argument must be (or become) a directory, never an existing file."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise StoreError(f"{out}: --out names an existing file; it must be a directory")
    return out


class Store:
    def __init__(self, out_dir: Path | str, readonly: bool = False):
        self.out_dir = check_out_dir(out_dir)
        self.path = self.out_dir / STORE_NAME
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.path}: is a directory, not a results store")
        if readonly and not self.path.is_file():
            raise FileNotFoundError(f"no results store at {self.path}: run `bench run --out {out_dir}` first")
        self.conn = None
        try:
            self._open(readonly)
        except BaseException:
            if self.conn is not None:
                self.conn.close()
            raise
        self.conn.row_factory = sqlite3.Row

    def _quick_check(self) -> None:
        """A damaged (e.g. truncated) store is refused before anything reads or writes it."""
        problems = [r[0] for r in self.conn.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise StoreError(f"{self.path}: the results store is damaged ({'; '.join(problems)[:200]}); "
                             f"move it aside or use another --out")

    @_guarded
    def _open(self, readonly: bool) -> None:
        if readonly:
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            self._quick_check()
            version = self.schema_version()
            if version == 0:
                raise StoreError(f"{self.path}: not a bench results store (no schema version; empty or foreign)")
            self._check_version(version)
        else:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30)
            if self.path.stat().st_size:
                self._quick_check()
            if self.path.stat().st_size and self.schema_version() == 0 and self._tables():
                raise StoreError(f"{self.path}: an SQLite file that is not a bench results store; "
                                 f"move it aside or use another --out")
            self._check_version(self.schema_version())   # before anything writes to it
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()

    def _tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema {version}, newer than this bench ({SCHEMA_VERSION}): "
                             f"upgrade bench")
        missing = {"runs", "jobs", "rows", "predictions"} - set(self._tables()) if version else set()
        if missing:
            raise StoreError(f"{self.path}: schema {version} but no table {', '.join(sorted(missing))}; "
                             f"the results store is damaged: move it aside or use another --out")

    def close(self) -> None:
        self.conn.close()

    def schema_version(self) -> int:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0
            raise
        try:
            return int(row[0]) if row else 0
        except (TypeError, ValueError):
            raise StoreError(f"{self.path}: schema_version {row[0]!r} is not a number") from None

    def _migrate(self) -> None:
        version = self.schema_version()
        self._check_version(version)
        while version < SCHEMA_VERSION:
            with self.conn:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                version += 1
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version),))

    # --- runs -----------------------------------------------------------------------------
    @_guarded
    def start_run(self, command: str, config: dict, provenance: dict, started: str) -> int:
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO runs (started, command, config, provenance) VALUES (?, ?, ?, ?)",
                (started, _text(command), _json(config), _json(provenance)))
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, finished: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE runs SET finished=? WHERE run_id=?", (finished, run_id))

    @_guarded
    def last_run_config(self) -> dict | None:
        row = self.conn.execute("SELECT config FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    @_guarded
    def run_spans(self) -> list[tuple[str, str | None]]:
        """(started, finished) of every `bench run` into this directory, oldest first (finished None: it did not
        end normally)."""
        return [tuple(row) for row in self.conn.execute("SELECT started, finished FROM runs ORDER BY run_id")]

    # --- jobs -----------------------------------------------------------------------------
    @_guarded
    def job_status(self, job_key: str) -> str | None:
        row = self.conn.execute("SELECT status FROM jobs WHERE job_key=?", (job_key,)).fetchone()
        return row[0] if row else None

    def record(self, run_id: int, job: dict, status: str, outcome: JobOutcome | None,
               error: str | None, provenance: dict, started: str, finished: str) -> None:
        """Write one finished job (done or failed) with its rows and predictions, atomically."""
        key = job["job_key"]
        check_scored_on_trained_split(job)
        with self.conn:
            prior = self.conn.execute("SELECT attempts FROM jobs WHERE job_key=?", (key,)).fetchone()
            attempts = (prior[0] + 1) if prior else 1
            self.conn.execute("DELETE FROM rows WHERE job_key=?", (key,))
            self.conn.execute("DELETE FROM predictions WHERE job_key=?", (key,))
            self.conn.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, run_id, job["suite"], _text(job["dataset"]), job["split"], job["method"], job["profile"],
                 job["seed"], job["device"], _json(job.get("params", {})), job["code_version"], status,
                 _text(error),
                 _json(outcome.timings if outcome else {}), _json(outcome.costs if outcome else {}),
                 _json(outcome.artefacts if outcome else []), _json(provenance), started, finished, attempts))
            for row in (outcome.rows if outcome else []):
                self.conn.execute("INSERT INTO rows VALUES (?,?,?)", (key, row.variant, _json(row.metrics)))
                self.conn.executemany(
                    "INSERT INTO predictions VALUES (?,?,?,?,?,?,?,?)",
                    [(key, row.variant, i, _text(p.get("item")), p.get("group"), p.get("label"), p.get("pred"),
                      _json({k: v for k, v in p.items() if k not in ("item", "group", "label", "pred")}))
                     for i, p in enumerate(row.predictions)])

    # --- reading --------------------------------------------------------------------------
    @_guarded
    def results(self, include_failed: bool = True, history: bool = False) -> pd.DataFrame:
        """Tidy rows: one per (method[/variant], dataset, split, seed), metrics and timings as columns.

        A job whose config or code changed gets a new key; by default only the latest attempt of each
        (suite, dataset, split, method, profile, seed, device) is shown (``history=True``: all of them).
        """
        jobs = self.conn.execute("SELECT * FROM jobs ORDER BY suite, dataset, split, method, seed, finished").fetchall()
        if not history:
            latest: dict[tuple, sqlite3.Row] = {}
            for job in jobs:
                latest[tuple(job[c] for c in ("suite", "dataset", "split", "method", "profile", "seed", "device"))] = job
            jobs = list(latest.values())
        rows_by_job: dict[str, list] = {}
        for r in self.conn.execute("SELECT job_key, variant, metrics FROM rows ORDER BY job_key, variant"):
            rows_by_job.setdefault(r["job_key"], []).append((r["variant"], json.loads(r["metrics"])))
        records = []
        for job in jobs:
            if job["status"] != "done" and not include_failed:
                continue
            base = {
                "suite": job["suite"], "dataset": job["dataset"], "split": job["split"],
                "method": job["method"], "seed": job["seed"], "profile": job["profile"],
                "status": job["status"], "error": job["error"], "device": job["device"],
                "job_key": job["job_key"],
            }
            timings = json.loads(job["timings"] or "{}")
            costs = json.loads(job["costs"] or "{}")
            prov = json.loads(job["provenance"] or "{}")
            data = json.loads(job["params"] or "{}")
            base["evaluated_on"] = data.get("evaluated_on", "test")
            base["settings_chosen_on"] = data.get("settings_chosen_on")
            if "excluded_videos" in data:
                base.update(n_train=data["n_train"], n_test=data["n_test"],
                            n_excluded_videos=len(data["excluded_videos"]))
            if "decoder" in data or "protocol" in data:
                base.update(decoder=data.get("decoder"), frames_sha256=data.get("frames_sha256"),
                            group_protocol=(data.get("protocol") or {}).get("groups"))
            extra = {**timings, **{f"cost_{k}": v for k, v in costs.items()},
                     "commit": prov.get("commit"), "machine": prov.get("machine"),
                     "device_name": prov.get("device_name"), "started": job["started"],
                     "finished": job["finished"]}
            variants = rows_by_job.get(job["job_key"]) or [("", {})]
            for variant, metrics in variants:
                name = f"{job['method']}/{variant}" if variant else job["method"]
                records.append({**base, "method": name, "variant": variant, **metrics, **extra})
        import pandas as pd

        return pd.DataFrame.from_records(records)

    @_guarded
    def predictions(self, job_key: str, variant: str = "") -> pd.DataFrame:
        rows = self.conn.execute(
            "SELECT idx, item, grp, label, pred, payload FROM predictions WHERE job_key=? AND variant=? ORDER BY idx",
            (job_key, variant)).fetchall()
        records = [{"idx": r["idx"], "item": r["item"], "group": r["grp"], "label": r["label"],
                    "pred": r["pred"], **json.loads(r["payload"] or "{}")} for r in rows]
        import pandas as pd

        return pd.DataFrame.from_records(records)


@contextmanager
def exclusive(out_dir: Path | str) -> Iterator[None]:
    """Hold the output directory for one ``bench run``; a second one refuses with a clear message."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lock_path = out / LOCK_NAME
    handle = open(lock_path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreBusyError(
            f"{out} is in use by another bench run ({holder}); wait for it to finish or use another --out") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
