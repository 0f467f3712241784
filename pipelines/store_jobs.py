"""The job queue of the store: enqueue, claim by lease, heartbeat, finish, cancel, retry, reap.

Job life cycle: queued → running → done | failed | cancelled, and failed | cancelled →
queued again by ``retry`` (same job, next attempt). A running job is *held by a lease*: the
worker that claimed it (``worker_id`` = host:pid:start time) renews ``lease_expires`` with
every heartbeat, and ``reap_stale`` fails a job only once its lease has expired — never
because a pid is absent on the reader's host, so workers on other machines (a Ray cluster)
keep their jobs. The queue is ordered by ``priority`` (expected cost: cheap jobs first), then
by age.

:class:`JobQueue` is a mixin of :class:`pipelines.store.Store` (it uses its ``tx``/``_rows``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
from typing import Any

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


class JobQueue:
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

