"""The SQLite results store: schema versions, atomic job writes, latest-vs-history rows."""
from __future__ import annotations

import sqlite3

import pytest

from benchmark.pipeline import store as store_module
from benchmark.pipeline.outcome import JobOutcome, RowResult
from benchmark.pipeline.store import SCHEMA_VERSION, Store


def _job(key="k1", method="m", seed=0):
    return {"job_key": key, "suite": "video", "dataset": "d", "split": 1, "method": method, "profile": "smoke",
            "seed": seed, "device": "cpu", "code_version": "c"}


def _outcome(acc=0.5, n=3):
    preds = [{"item": f"v{i}", "group": i, "label": i % 2, "pred": 0, "scores": [0.6, 0.4]} for i in range(n)]
    return JobOutcome([RowResult("", {"video_hit1": acc}, preds)], {"train_s": 1.0}, {"params": 10})


def test_new_store_has_current_schema_and_wal(tmp_path):
    store = Store(tmp_path)
    assert store.schema_version() == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_store_newer_than_code_is_refused(tmp_path):
    Store(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(store_module.StoreError, match="newer than this bench"):
        Store(tmp_path)
    with pytest.raises(store_module.StoreError, match="newer than this bench"):
        Store(tmp_path, readonly=True)


def test_migrations_cover_every_version():
    assert sorted(store_module.MIGRATIONS) == list(range(SCHEMA_VERSION))


def test_record_and_read_back(tmp_path):
    store = Store(tmp_path)
    run = store.start_run("bench run", {}, {}, "t0")
    store.record(run, _job(), "done", _outcome(), None, {"commit": "abc"}, "t0", "t1")
    frame = store.results()
    assert frame.loc[0, "video_hit1"] == 0.5 and frame.loc[0, "commit"] == "abc"
    assert store.job_status("k1") == "done"
    preds = store.predictions("k1")
    assert list(preds["item"]) == ["v0", "v1", "v2"] and preds.loc[0, "scores"] == [0.6, 0.4]
    store.close()


def test_failed_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    store = Store(tmp_path)
    run = store.start_run("bench run", {}, {}, "t0")
    store.record(run, _job(), "done", _outcome(0.5), None, {}, "t0", "t1")

    real_conn = store.conn

    class Failing:
        def __getattr__(self, name):
            return getattr(real_conn, name)

        def __enter__(self):
            return real_conn.__enter__()

        def __exit__(self, *exc):
            return real_conn.__exit__(*exc)

        def executemany(self, *args, **kwargs):
            raise sqlite3.OperationalError("disk I/O error")

    store.conn = Failing()
    with pytest.raises(sqlite3.OperationalError):
        store.record(run, _job(), "done", _outcome(0.9), None, {}, "t2", "t3")
    store.conn = real_conn
    frame = store.results()
    assert list(frame["video_hit1"]) == [0.5]          # the old complete result, not a mix
    assert len(store.predictions("k1")) == 3
    store.close()


def test_latest_attempt_hides_superseded_configs(tmp_path):
    store = Store(tmp_path)
    run = store.start_run("bench run", {}, {}, "t0")
    store.record(run, _job("old"), "failed", None, "boom", {}, "t0", "t1")
    store.record(run, _job("new"), "done", _outcome(0.7), None, {}, "t2", "t3")
    assert list(store.results()["status"]) == ["done"]
    assert sorted(store.results(history=True)["status"]) == ["done", "failed"]
    store.close()


def test_names_with_undecodable_bytes_are_stored_escaped(tmp_path):
    store = Store(tmp_path)
    run = store.start_run("bench run --dataset caf\udce9", {}, {}, "t0")
    outcome = _outcome(0.5)
    outcome.rows[0].predictions[0]["item"] = "v_caf\udce9.avi"    # a Latin-1 file name, surrogate-escaped
    store.record(run, {**_job(), "dataset": "caf\udce9"}, "done", outcome, "err \udce9", {}, "t0", "t1")
    frame = store.results()
    assert frame.iloc[0]["dataset"] == "caf\\xe9"
    assert store.predictions(frame.iloc[0]["job_key"]).iloc[0]["item"] == "v_caf\\xe9.avi"
    store.close()
