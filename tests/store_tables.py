"""Comparable snapshots of a results store, for tests that compare two runs (kill/resume, Dask vs local)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

PREDICTION_COLUMNS = "j.method, j.split, j.seed, p.variant, p.idx, p.item, p.grp, p.label, p.pred, p.payload"


def result_table(out: Path, with_code_version: bool = False) -> tuple[list, list]:
    """(job rows with their metrics, per-video predictions), keyed by what the job is, not by timings.

    ``with_code_version`` adds each job's code version, so a source edit during a test shows up as such.
    """
    conn = sqlite3.connect(out / "results.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            "SELECT j.method, j.split, j.seed, j.status, r.variant, r.metrics, j.code_version FROM jobs j "
            "LEFT JOIN rows r ON r.job_key = j.job_key ORDER BY 1, 2, 3, 5").fetchall()
        predictions = conn.execute(
            f"SELECT {PREDICTION_COLUMNS} FROM predictions p JOIN jobs j ON p.job_key = j.job_key "
            "ORDER BY 1, 2, 3, 4, 5").fetchall()
    finally:
        conn.close()
    keep = 7 if with_code_version else 6
    return [(*r[:5], json.loads(r[5]) if r[5] else None, r[6])[:keep] for r in rows], predictions
