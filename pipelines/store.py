"""The SQLite store: datasets, jobs (the queue), runs and their metric histories.

One file, WAL mode, every write in a transaction, so the dashboard can read while a worker
writes and a crash never leaves half a row. Run folders hold the bulky results; the store
holds what lists and queues need.

Job life cycle: queued → running → done | failed | cancelled, and failed | cancelled →
queued again by ``retry`` (same job, next attempt). A running job is *held by a lease*: the
worker that claimed it (``worker_id`` = host:pid:start time) renews ``lease_expires`` with
every heartbeat, and ``reap_stale`` fails a job only once its lease has expired — never
because a pid is absent on the reader's host, so workers on other machines (a Ray cluster)
keep their jobs. The queue is ordered by ``priority`` (expected cost: cheap jobs first), then
by age.

The schema is versioned (``PRAGMA user_version``): :data:`MIGRATIONS` upgrades a workspace
made by an older version in place, after copying the store file aside.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import paths
from .store_io import StoreError, ensure_creatable, is_read_only, open_read_only, open_read_write, store_fault
from .store_schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

FINAL = ("done", "failed", "cancelled")
RETRYABLE = ("failed", "cancelled")
LEASE_S = 30.0  # a heartbeat every few seconds renews it; 10 missed beats and the job is free


def lease_seconds() -> float:
    """Lease length (``WORKBENCH_LEASE_S`` overrides it, e.g. for tests of expiry)."""
    return float(os.environ.get("WORKBENCH_LEASE_S", LEASE_S))


_STARTED_AT = time.time()


def this_worker_id() -> str:
    """host:pid:start time — unique across machines and pid reuse, readable in job lists."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(_STARTED_AT)}"


class Store:
    """Thin wrapper around one SQLite connection per call site (connections are cheap)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else paths.store_path()
        ensure_creatable(self.path)
        self.migrate()

    def read_only(self) -> bool:
        """True when this process cannot write the store: connections then open read-only, so
        listing and comparing still work on a read-only workspace; a write says so in one line."""
        return is_read_only(self.path)

    def require_writable(self) -> None:
        """Fail early, before a long computation whose result could not be recorded."""
        if self.read_only():
            raise StoreError(f"the store {self.path} is read-only, and this command writes to it: make the workspace "
                             "writable, or point WORKBENCH_HOME at a writable copy")

    def schema_version(self) -> int:
        with self.connect() as con:
            return int(con.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> list[int]:
        """Bring the schema to :data:`SCHEMA_VERSION`; returns the versions applied.

        A workspace made before versioning has tables but ``user_version`` 0: its version-1
        statements are all ``IF NOT EXISTS``, so they are no-ops there. Before upgrading an
        existing store, a copy is kept beside it (``workbench.sqlite.v<N>.bak``).
        """
        current = self.schema_version()
        if self.read_only() and current < SCHEMA_VERSION:
            raise StoreError(f"{self.path} was made by an older version of the workbench (schema {current}) and needs "
                             f"an upgrade to schema {SCHEMA_VERSION}, but it is read-only: make it writable once so it "
                             "can be upgraded (a copy of the old file is kept beside it)")
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was made by a newer version of the workbench (schema {current}, this "
                             f"version knows {SCHEMA_VERSION}); upgrade the workbench or point WORKBENCH_HOME elsewhere")
        if current == SCHEMA_VERSION:
            return []
        if current == 0 and self._has_tables():
            current = 1  # made before versioning: the schema of version 1
        if current and current < SCHEMA_VERSION:
            backup = self.path.with_name(f"{self.path.name}.v{current}.bak")
            if not backup.exists():
                with self.connect() as con:
                    con.execute("PRAGMA wal_checkpoint(FULL)")
                shutil.copy2(self.path, backup)
                log.info("upgrading %s from schema %d to %d (copy kept at %s)", self.path, current,
                         SCHEMA_VERSION, backup)
        applied = []
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.tx() as con:
                for stmt in MIGRATIONS[version - 1]:
                    con.execute(stmt)
                con.execute(f"PRAGMA user_version={version}")
            applied.append(version)
        return applied

    def _has_tables(self) -> bool:
        return bool(self._rows("SELECT name FROM sqlite_master WHERE type='table' AND name='jobs'"))

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection (read-only on a read-only workspace); SQLite faults become a one-line StoreError.

        A reader whose read-write open fails on a full disk (SQLite cannot create the WAL index)
        falls back to a read-only connection, so lists and comparisons still work there.
        """
        try:
            con = self._open(write)
        except sqlite3.DatabaseError as exc:
            fault = store_fault(self.path, exc)
            if fault is None:
                raise
            raise fault from exc
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            fault = store_fault(self.path, exc)
            if fault is None:
                raise
            raise fault from exc
        finally:
            con.close()

    def _open(self, write: bool) -> sqlite3.Connection:
        if self.read_only():
            return open_read_only(self.path)
        try:
            return open_read_write(self.path)
        except sqlite3.OperationalError as exc:
            if write or "disk" not in str(exc).lower():
                raise
            log.warning("%s: %s; reading it read-only", self.path, exc)
            return open_read_only(self.path)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any error (all or nothing)."""
        self.require_writable()
        with self.connect(write=True) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.DatabaseError:  # a failed COMMIT/write may have ended the transaction already
                    pass
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

    # -------------------------------------------------------------------- jobs
    def enqueue(self, kind: str, config: dict[str, Any], priority: float = 0.0, sweep: str | None = None) -> int:
        """Queue a job; lower ``priority`` runs first (the run kind's expected cost)."""
        with self.tx() as con:
            cur = con.execute(
                "INSERT INTO jobs (kind, config, status, created_at, priority, sweep) VALUES (?,?, 'queued', ?, ?, ?)",
                (kind, json.dumps(config), time.time(), float(priority), sweep),
            )
            return int(cur.lastrowid)

    def claim_next(self, worker_id: str | None = None, pid: int | None = None,
                   kinds: tuple[str, ...] | None = None) -> dict[str, Any] | None:
        """Atomically take the cheapest (then oldest) queued job and lease it to this worker."""
        with self.tx() as con:
            sql = "SELECT id FROM jobs WHERE status='queued' AND cancel_requested=0"
            args: tuple = ()
            if kinds:
                sql += f" AND kind IN ({','.join('?' * len(kinds))})"
                args = tuple(kinds)
            row = con.execute(sql + " ORDER BY priority, id LIMIT 1", args).fetchone()
            if row is None:
                return None
            self._lease(con, row["id"], worker_id, pid)
        return self.job(row["id"])

    def claim(self, job_id: int, worker_id: str | None = None, pid: int | None = None) -> bool:
        """Lease one specific queued job (used when the CLI runs a job in-process)."""
        with self.tx() as con:
            row = con.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None or row["status"] != "queued":
                return False
            self._lease(con, job_id, worker_id, pid)
            return True

    @staticmethod
    def _lease(con: sqlite3.Connection, job_id: int, worker_id: str | None, pid: int | None) -> None:
        now = time.time()
        con.execute(
            "UPDATE jobs SET status='running', worker_id=?, worker_pid=?, heartbeat=?, lease_expires=?, "
            "started_at=?, finished_at=NULL, message='starting' WHERE id=?",
            (worker_id or this_worker_id(), pid or os.getpid(), now, now + lease_seconds(), now, job_id),
        )

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

    def heartbeat(self, job_id: int, progress: float | None = None, message: str | None = None,
                  worker_id: str | None = None) -> bool:
        """Renew the lease (and record progress); True when the job should stop.

        It should stop when a cancel was requested, or when the lease is no longer this
        worker's (it expired and the job was reaped or claimed again elsewhere).
        """
        worker_id = worker_id or this_worker_id()
        now = time.time()
        with self.tx() as con:
            cur = con.execute(
                "UPDATE jobs SET heartbeat=?, lease_expires=?, progress=COALESCE(?, progress), "
                "message=COALESCE(?, message) WHERE id=? AND status='running' AND worker_id=?",
                (now, now + lease_seconds(), progress, message, job_id, worker_id),
            )
            row = con.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        return cur.rowcount == 0 or bool(row and row["cancel_requested"])

    def finish(self, job_id: int, status: str, error: str | None = None, run_id: str | None = None) -> None:
        if status not in FINAL:
            raise ValueError(f"a job finishes as one of {FINAL}, not {status!r}")
        with self.tx() as con:
            con.execute(
                "UPDATE jobs SET status=?, error=?, run_id=COALESCE(?, run_id), finished_at=?, lease_expires=NULL, "
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
        """Queue a failed or cancelled job again as its next attempt; returns its id.

        The next attempt takes over the previous attempt's work folder (see
        ``pipelines.jobs``), so work that can resume (saved prompt chunks) is not redone.
        """
        with self.tx() as con:
            row = con.execute("SELECT status, attempt FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(f"no job {job_id}")
            if row["status"] not in RETRYABLE:
                raise ValueError(f"job {job_id} is {row['status']}: only failed or cancelled jobs can be retried")
            con.execute(
                "UPDATE jobs SET status='queued', attempt=?, cancel_requested=0, worker_id=NULL, worker_pid=NULL, "
                "lease_expires=NULL, heartbeat=NULL, progress=0, started_at=NULL, finished_at=NULL, "
                "message=? WHERE id=?",
                (row["attempt"] + 1, f"attempt {row['attempt'] + 1} queued", job_id),
            )
        return job_id

    def reap_stale(self, now: float | None = None) -> list[int]:
        """Fail running jobs whose lease has expired, with the reason; returns their ids.

        Only the lease decides: a worker on another host has pids this reader cannot see.
        (A row from before leases has no expiry: its heartbeat plus the lease length stands in.)
        """
        now = time.time() if now is None else now
        running = self._rows("SELECT heartbeat, lease_expires FROM jobs WHERE status='running'")
        if not any((r["lease_expires"] or (r["heartbeat"] or 0) + lease_seconds()) < now for r in running):
            return []  # nothing expired: no write, so listing works on a read-only workspace or a full disk
        if self.read_only():
            log.warning("%s is read-only: expired jobs stay marked running", self.path)
            return []
        reaped = []
        with self.tx() as con:
            rows = con.execute("SELECT id, worker_id, worker_pid, heartbeat, lease_expires FROM jobs "
                               "WHERE status='running'").fetchall()
            for row in rows:
                expires = row["lease_expires"] or (row["heartbeat"] or 0) + lease_seconds()
                if expires >= now:
                    continue
                holder = row["worker_id"] or f"pid {row['worker_pid']}"
                age = now - (row["heartbeat"] or 0)
                why = (f"worker {holder} died or lost contact: its lease expired {now - expires:.0f} s ago "
                       f"(last heartbeat {age:.0f} s ago); retry the job to run it again")
                con.execute("UPDATE jobs SET status='failed', error=?, finished_at=?, message='worker died', "
                            "lease_expires=NULL WHERE id=?", (why, now, row["id"]))
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
                "path, summary, created_at, sweep) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (run["id"], run.get("job_id"), run["kind"], run.get("name"), run["dataset_id"],
                 run["split_hash"], run["model"], run.get("method"), str(run["path"]),
                 json.dumps(run.get("summary", {})), time.time(), run.get("sweep")),
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
        return [_run_row(r) for r in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM runs WHERE id=?", (run_id,))
        return _run_row(rows[0]) if rows else None

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

    def update(self, namespace: str, key: str, change: Any, default: Any = None) -> Any:
        """Read, change and write one kv document in one transaction (no lost update between processes)."""
        with self.tx() as con:
            row = con.execute("SELECT value FROM kv WHERE namespace=? AND key=?", (namespace, key)).fetchone()
            value = change(json.loads(row["value"]) if row else default)
            con.execute("INSERT OR REPLACE INTO kv (namespace, key, value, updated_at) VALUES (?,?,?,?)",
                        (namespace, key, json.dumps(value), time.time()))
        return value

    def items(self, namespace: str) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"])
                for r in self._rows("SELECT key, value FROM kv WHERE namespace=? ORDER BY key", (namespace,))}

    def delete(self, namespace: str, key: str) -> None:
        with self.tx() as con:
            con.execute("DELETE FROM kv WHERE namespace=? AND key=?", (namespace, key))


def _run_row(row: dict[str, Any]) -> dict[str, Any]:
    """Decode a runs row; the workspace's own run folder wins, so a moved or copied workspace still finds its runs."""
    row["summary"] = json.loads(row["summary"])
    own = paths.runs_dir() / row["id"]
    if own.is_dir():
        row["path"] = str(own)
    return row
