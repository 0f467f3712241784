"""The SQLite store: datasets, jobs (the queue), runs and their metric histories.

One file, WAL mode, every write in a transaction, so the dashboard can read while a worker
writes and a crash never leaves half a row. Run folders hold the bulky results; the store
holds what lists and queues need.

Job life cycle: queued → running → done | failed | cancelled. A running job carries the
worker's pid and a heartbeat; ``reap_stale`` marks jobs whose worker stopped beating as
failed, with the reason, so nothing stays "running" forever.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import paths

SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    split_hash TEXT NOT NULL,
    task TEXT NOT NULL,
    labels TEXT NOT NULL,
    n_train INTEGER, n_validation INTEGER, n_test INTEGER,
    info TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT,
    error TEXT,
    run_id TEXT,
    worker_pid INTEGER,
    heartbeat REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    job_id INTEGER,
    kind TEXT NOT NULL,
    name TEXT,
    dataset_id TEXT NOT NULL,
    split_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    method TEXT,
    path TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_split ON runs(split_hash);
CREATE TABLE IF NOT EXISTS history (
    job_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    epoch REAL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS history_job ON history(job_id);
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""

ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")
STALE_AFTER_S = 30.0


class Store:
    """Thin wrapper around one SQLite connection per call site (connections are cheap)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else paths.store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            con.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        with self.connect() as con:
            return [dict(r) for r in con.execute(sql, args).fetchall()]

    # ---------------------------------------------------------------- datasets
    def upsert_dataset(self, info: dict[str, Any]) -> None:
        """Register a prepared dataset (``info`` is its dataset.json)."""
        with self.tx() as con:
            con.execute(
                "INSERT OR REPLACE INTO datasets (id, name, path, split_hash, task, labels, n_train, "
                "n_validation, n_test, info, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    info["id"], info.get("name", info["id"]), info["path"], info["split_hash"],
                    info["task"], json.dumps(info["labels"]), info["sizes"]["train"],
                    info["sizes"]["validation"], info["sizes"]["test"], json.dumps(info), time.time(),
                ),
            )

    def datasets(self) -> list[dict[str, Any]]:
        rows = self._rows("SELECT * FROM datasets ORDER BY created_at")
        for r in rows:
            r["labels"] = json.loads(r["labels"])
            r["info"] = json.loads(r["info"] or "{}")
        return rows

    def dataset(self, dataset_id: str) -> dict[str, Any] | None:
        return next((d for d in self.datasets() if d["id"] == dataset_id), None)

    def delete_dataset(self, dataset_id: str) -> None:
        with self.tx() as con:
            con.execute("DELETE FROM datasets WHERE id=?", (dataset_id,))

    # -------------------------------------------------------------------- jobs
    def enqueue(self, kind: str, config: dict[str, Any]) -> int:
        with self.tx() as con:
            cur = con.execute(
                "INSERT INTO jobs (kind, config, status, created_at) VALUES (?,?, 'queued', ?)",
                (kind, json.dumps(config), time.time()),
            )
            return int(cur.lastrowid)

    def claim_next(self, pid: int | None = None) -> dict[str, Any] | None:
        """Atomically take the oldest queued job and mark it running for this worker."""
        pid = pid or os.getpid()
        now = time.time()
        with self.tx() as con:
            row = con.execute(
                "SELECT id FROM jobs WHERE status='queued' AND cancel_requested=0 ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            con.execute(
                "UPDATE jobs SET status='running', worker_pid=?, heartbeat=?, started_at=?, "
                "message='starting' WHERE id=?",
                (pid, now, now, row["id"]),
            )
        return self.job(row["id"])

    def claim(self, job_id: int, pid: int | None = None) -> bool:
        """Mark one specific queued job running (used when the CLI runs a job in-process)."""
        now = time.time()
        with self.tx() as con:
            cur = con.execute(
                "UPDATE jobs SET status='running', worker_pid=?, heartbeat=?, started_at=?, message='starting' "
                "WHERE id=? AND status='queued'",
                (pid or os.getpid(), now, now, job_id),
            )
            return cur.rowcount == 1

    def job(self, job_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM jobs WHERE id=?", (job_id,))
        if not rows:
            return None
        rows[0]["config"] = json.loads(rows[0]["config"])
        return rows[0]

    def jobs(self, status: str | tuple[str, ...] | None = None, limit: int = 200) -> list[dict[str, Any]]:
        if status is None:
            rows = self._rows("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
        else:
            statuses = (status,) if isinstance(status, str) else tuple(status)
            marks = ",".join("?" * len(statuses))
            rows = self._rows(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY id DESC LIMIT ?",
                              (*statuses, limit))
        for r in rows:
            r["config"] = json.loads(r["config"])
        return rows

    def heartbeat(self, job_id: int, progress: float | None = None, message: str | None = None) -> bool:
        """Refresh the heartbeat (and progress); returns True if a cancel was requested."""
        with self.tx() as con:
            con.execute(
                "UPDATE jobs SET heartbeat=?, progress=COALESCE(?, progress), message=COALESCE(?, message) "
                "WHERE id=? AND status='running'",
                (time.time(), progress, message, job_id),
            )
            row = con.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        return bool(row and row["cancel_requested"])

    def finish(self, job_id: int, status: str, error: str | None = None, run_id: str | None = None) -> None:
        assert status in FINAL, status
        with self.tx() as con:
            con.execute(
                "UPDATE jobs SET status=?, error=?, run_id=COALESCE(?, run_id), finished_at=?, "
                "progress=CASE WHEN ?='done' THEN 1 ELSE progress END, message=? WHERE id=?",
                (status, error, run_id, time.time(), status, status, job_id),
            )

    def request_cancel(self, job_id: int) -> str:
        """Cancel a queued job at once; ask a running one to stop at its next check."""
        with self.tx() as con:
            row = con.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(f"no job {job_id}")
            if row["status"] == "queued":
                con.execute("UPDATE jobs SET status='cancelled', cancel_requested=1, finished_at=?, "
                            "message='cancelled before start' WHERE id=?", (time.time(), job_id))
                return "cancelled"
            if row["status"] == "running":
                con.execute("UPDATE jobs SET cancel_requested=1 WHERE id=?", (job_id,))
                return "cancelling"
            return row["status"]

    def retry(self, job_id: int) -> int:
        """Queue a copy of a finished job (failed/cancelled) and return the new id."""
        job = self.job(job_id)
        if job is None:
            raise KeyError(f"no job {job_id}")
        return self.enqueue(job["kind"], job["config"])

    def reap_stale(self, stale_after_s: float = STALE_AFTER_S) -> list[int]:
        """Mark running jobs whose worker is gone as failed, with the reason.

        A worker is gone when its heartbeat is older than ``stale_after_s`` or, on this
        host, when its pid no longer exists.
        """
        now = time.time()
        reaped = []
        with self.tx() as con:
            for row in con.execute("SELECT id, worker_pid, heartbeat FROM jobs WHERE status='running'").fetchall():
                age = now - (row["heartbeat"] or 0)
                alive = _pid_alive(row["worker_pid"])
                if age > stale_after_s or not alive:
                    why = (f"worker (pid {row['worker_pid']}) died: last heartbeat {age:.0f} s ago"
                           + ("" if alive else ", process no longer exists"))
                    con.execute("UPDATE jobs SET status='failed', error=?, finished_at=?, message='worker died' "
                                "WHERE id=?", (why, now, row["id"]))
                    reaped.append(row["id"])
        return reaped

    # ----------------------------------------------------------------- history
    def log_metric(self, job_id: int, step: int, name: str, value: float, epoch: float | None = None) -> None:
        with self.tx() as con:
            con.execute("INSERT INTO history (job_id, step, name, value, epoch, at) VALUES (?,?,?,?,?,?)",
                        (job_id, step, name, float(value), epoch, time.time()))

    def history(self, job_id: int) -> list[dict[str, Any]]:
        return self._rows("SELECT step, name, value, epoch, at FROM history WHERE job_id=? ORDER BY at", (job_id,))

    # -------------------------------------------------------------------- runs
    def add_run(self, run: dict[str, Any]) -> None:
        with self.tx() as con:
            con.execute(
                "INSERT OR REPLACE INTO runs (id, job_id, kind, name, dataset_id, split_hash, model, method, "
                "path, summary, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (run["id"], run.get("job_id"), run["kind"], run.get("name"), run["dataset_id"],
                 run["split_hash"], run["model"], run.get("method"), str(run["path"]),
                 json.dumps(run.get("summary", {})), time.time()),
            )

    def runs(self, dataset_id: str | None = None, split_hash: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM runs", []
        where = []
        if dataset_id:
            where.append("dataset_id=?")
            args.append(dataset_id)
        if split_hash:
            where.append("split_hash=?")
            args.append(split_hash)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._rows(sql + " ORDER BY created_at", tuple(args))
        for r in rows:
            r["summary"] = json.loads(r["summary"])
        return rows

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM runs WHERE id=?", (run_id,))
        if not rows:
            return None
        rows[0]["summary"] = json.loads(rows[0]["summary"])
        return rows[0]

    def delete_run(self, run_id: str) -> None:
        with self.tx() as con:
            con.execute("DELETE FROM runs WHERE id=?", (run_id,))

    # ---------------------------------------------------------- key/value data
    def put(self, namespace: str, key: str, value: Any) -> None:
        """Small JSON documents (Hub details cache, shortlists, dashboard state)."""
        with self.tx() as con:
            con.execute("INSERT OR REPLACE INTO kv (namespace, key, value, updated_at) VALUES (?,?,?,?)",
                        (namespace, key, json.dumps(value), time.time()))

    def get(self, namespace: str, key: str, max_age_s: float | None = None) -> Any | None:
        rows = self._rows("SELECT value, updated_at FROM kv WHERE namespace=? AND key=?", (namespace, key))
        if not rows or (max_age_s is not None and time.time() - rows[0]["updated_at"] > max_age_s):
            return None
        return json.loads(rows[0]["value"])

    def items(self, namespace: str) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"])
                for r in self._rows("SELECT key, value FROM kv WHERE namespace=? ORDER BY key", (namespace,))}

    def delete(self, namespace: str, key: str) -> None:
        with self.tx() as con:
            con.execute("DELETE FROM kv WHERE namespace=? AND key=?", (namespace, key))


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed but not yet reaped by its parent) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True
