"""The local executor: one worker process runs queued jobs one at a time, cheapest first.

One at a time on purpose: energy and speed figures stay comparable when jobs do not compete
for the same cores (a cluster executor may run several jobs at once, each on its own
resources). The worker registers itself in the store (kv ``worker``/``current``) so the
dashboard knows whether to start one; jobs themselves are held by leases (see
:mod:`pipelines.store`), not by this record.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from . import paths
from .jobs import execute
from .procs import pid_alive
from .store import Store, this_worker_id
from .sweeps import apply_retention

log = logging.getLogger(__name__)


def worker_loop(store: Store | None = None, once: bool = False, poll_s: float = 1.0,
                idle_exit_s: float | None = None) -> int:
    """Execute queued jobs one at a time. Returns the number of jobs executed.

    ``once``: stop when the queue is empty; ``idle_exit_s``: stop after that long without
    work (used by on-demand workers). SIGTERM finishes the current job, then exits.
    """
    store = store or Store()
    paths.ensure_dirs()
    stop = threading.Event()

    def _term(signum: int, _frame: Any) -> None:
        log.info("worker got signal %s; finishing current job then exiting", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _term)
    worker_id = this_worker_id()
    reaped = store.reap_stale()
    if reaped:
        log.warning("failed %d job(s) whose lease had expired: %s", len(reaped), reaped)
    record = {"pid": os.getpid(), "worker_id": worker_id, "started_at": time.time()}
    store.put("worker", "current", record)
    done, idle_since = 0, time.monotonic()
    while not stop.is_set():
        job = store.claim_next(worker_id)
        if job is None:
            if once or (idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s):
                break
            stop.wait(poll_s)
            store.reap_stale()
            store.put("worker", "current", {**record, "idle": True})
            continue
        log.info("worker %s: job %s (%s), attempt %s", worker_id, job["id"], job["kind"], job["attempt"])
        execute(store, job, worker_id)
        if job.get("sweep"):
            apply_retention(store, job["sweep"])
        done += 1
        idle_since = time.monotonic()
    store.delete("worker", "current")
    return done


def worker_alive(store: Store) -> bool:
    """Is a local worker process registered and still running on this machine?"""
    info = store.get("worker", "current")
    return bool(info and pid_alive(info.get("pid")))
