"""The SQLite store: datasets, jobs (the queue), runs and their metric histories.

One file, WAL mode, every write in a transaction, so the dashboard can read while a worker
writes and a crash never leaves half a row. Run folders hold the bulky results; the store
holds what lists and queues need.

The job queue with its leases lives in :mod:`pipelines.store_jobs`.

The schema is versioned (``PRAGMA user_version``): :data:`MIGRATIONS` upgrades a workspace
made by an older version in place, after copying the store file aside.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import paths
from .store_io import StoreError, ensure_creatable, is_read_only, open_read_only, open_read_write, store_fault
from .store_jobs import FINAL, RETRYABLE, JobQueue, lease_seconds, this_worker_id  # noqa: F401 - re-exported
from .store_schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

class Store(JobQueue):
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
        with self._store_errors():
            con = self._open(write)
        try:
            with self._store_errors():
                yield con
        finally:
            con.close()

    @contextmanager
    def _store_errors(self) -> Iterator[None]:
        """SQLite's faults (disk full, read-only, not a database) as a StoreError naming this file."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            fault = store_fault(self.path, exc)
            if fault is None:
                raise
            raise fault from exc

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
                "INSERT INTO datasets (id, name, path, split_hash, task, labels, n_train, n_validation, n_test, info, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
                "path=excluded.path, split_hash=excluded.split_hash, task=excluded.task, labels=excluded.labels, "
                "n_train=excluded.n_train, n_validation=excluded.n_validation, n_test=excluded.n_test, "
                "info=excluded.info",  # an update keeps the dataset's place in lists (created_at)
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

    # ----------------------------------------------------------------- history
    def log_metric(self, job_id: int, step: int, name: str, value: float, epoch: float | None = None) -> None:
        with self.tx() as con:
            con.execute("INSERT INTO history (job_id, step, name, value, epoch, at) VALUES (?,?,?,?,?,?)",
                        (job_id, step, name, float(value), epoch, time.time()))

    def history(self, *job_ids: int) -> list[dict[str, Any]]:
        """Logged metrics (training curves) of one or more jobs, oldest first."""
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))
        return self._rows(f"SELECT job_id, step, name, value, epoch, at FROM history WHERE job_id IN ({marks}) "
                          "ORDER BY at", tuple(job_ids))

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
