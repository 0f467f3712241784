"""Running jobs: the context a job function gets, submission, in-process execution.

A job function (``RunKind.run``) has the signature ``fn(config: dict, ctx: JobContext) ->
run id | None``. It writes into ``ctx.work_dir``, reports ``ctx.progress(...)`` (which raises
``Cancelled`` once a cancel was requested or the lease was lost), tracks energy with
``ctx.track(phase)`` and ends with :func:`pipelines.finish.finish_run`, whose last step is
``ctx.finalize_run(...)``. The same path runs a job queued by the dashboard (``python -m
pipelines worker``) and one started from the CLI, so both leave the same rows and folders.

Attempts: each attempt of a job works in its own folder, ``runs/.partial/job-<id>-a<n>``, so
two jobs never share files, even with identical configs. Resuming is explicit: attempt n+1
(``Store.retry``) takes over attempt n's folder by renaming it, and the kind decides what it
can reuse (the prompt kind's scored chunks; every attempt's energy phases are kept).

A daemon thread renews the job's lease every few seconds, also during a long forward pass,
so only a dead process (SIGKILL, OOM, power) or a lost store lets the lease expire.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import emissions, kinds, runs
from .runfolder import RunFolder
from .store import Store, this_worker_id

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 3.0
PHASES_FILE = "phases.jsonl"  # every tracked phase of every attempt, one JSON line each

# (work folder, runs row) -> run id: how a finished run lands in the workspace. The local
# default renames the folder into place and inserts the row; a remote executor ships the
# folder back to its driver, which lands it the same way.
Lander = Callable[[Path, dict[str, Any]], str]


class Cancelled(Exception):
    """Raised inside a job when the user asked to cancel it (or its lease was lost)."""


def land_locally(store: Store) -> Lander:
    def land(work_dir: Path, row: dict[str, Any]) -> str:
        folder = runs.finalize(work_dir, row["id"])
        store.add_run({**row, "path": str(folder)})
        return row["id"]
    return land


class JobContext:
    def __init__(self, store: Store, job: dict[str, Any], worker_id: str | None = None,
                 land: Lander | None = None, on_progress: Callable[[float, str | None], None] | None = None):
        self.store = store
        self.job = job
        self.job_id: int = job["id"]
        self.kind: str = job["kind"]
        self.attempt: int = int(job.get("attempt") or 1)
        self.config: dict[str, Any] = job["config"]
        self.worker_id = worker_id or job.get("worker_id") or this_worker_id()
        self.work_dir: Path = runs.attempt_dir(self.job_id, self.attempt)
        self._land = land or land_locally(store)
        self._on_progress = on_progress  # the CLI's terminal view (termprogress); None in the worker
        self.cancel_requested = False
        self._progress: float | None = None
        self._message: str | None = None
        self._stop = threading.Event()
        self.logger = logging.getLogger(f"pipelines.job.{self.job_id}")

    # -- called by job code
    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0..1) and a short status line; raise Cancelled if asked to stop."""
        self._progress = max(0.0, min(1.0, float(fraction)))
        if message:
            self._message = message
        if self._on_progress is not None:
            self._on_progress(self._progress, message)
        self.check_cancel()

    def check_cancel(self) -> None:
        if self.cancel_requested:
            raise Cancelled(f"job {self.job_id} cancelled (by the user, or its lease was lost)")

    def log_metric(self, step: int, name: str, value: float, epoch: float | None = None) -> None:
        self.store.log_metric(self.job_id, step, name, value, epoch)

    @contextlib.contextmanager
    def track(self, phase: str, country_iso_code: str, cpu_power_watts: float | None = None
              ) -> Iterator[dict[str, Any]]:
        """Track one energy phase; the record is kept even if the block fails or is cancelled."""
        record: dict[str, Any] = {}
        try:
            with emissions.track(self.work_dir, phase, country_iso_code, cpu_power_watts) as record:
                yield record
        finally:
            if record:
                with (self.work_dir / PHASES_FILE).open("a") as fh:
                    fh.write(json.dumps({**record, "attempt": self.attempt}, default=str) + "\n")

    def phases(self) -> list[dict[str, Any]]:
        """Every tracked phase of this job so far, earlier attempts included (their energy was spent)."""
        path = self.work_dir / PHASES_FILE
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def finalize_run(self, *, dataset: dict[str, Any], model: str, method: str | None,
                     metrics: dict[str, Any], name: str | None = None) -> str:
        """Land the finished work folder as a run (folder first, then the store row)."""
        run_id = runs.new_run_id(model, method)
        return self._land(self.work_dir, {
            "id": run_id, "job_id": self.job_id, "kind": self.kind, "name": name or run_id,
            "dataset_id": dataset["id"], "split_hash": dataset["split_hash"], "model": model,
            "method": method, "summary": runs.summary_from_metrics(metrics), "sweep": self.job.get("sweep"),
        })

    # -- lease renewal
    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            self._beat_once()

    def _beat_once(self) -> None:
        try:
            if self.store.heartbeat(self.job_id, self._progress, self._message, worker_id=self.worker_id):
                self.cancel_requested = True
        except Exception:  # a locked DB must not kill the job; the next beat retries
            log.exception("heartbeat failed")

    def _take_over_previous_attempt(self) -> bool:
        previous = runs.attempt_dir(self.job_id, self.attempt - 1)
        if self.attempt > 1 and previous.is_dir() and not self.work_dir.exists():
            previous.rename(self.work_dir)
            return True
        return False

    def __enter__(self) -> JobContext:
        resumed = self._take_over_previous_attempt()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._log_handler = logging.FileHandler(RunFolder(self.work_dir).log)
        self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(self._log_handler)
        pipelines_log = logging.getLogger("pipelines")
        if pipelines_log.getEffectiveLevel() > logging.INFO:  # log.txt keeps INFO even where no CLI set it up
            pipelines_log.setLevel(logging.INFO)
        if resumed:
            self.logger.info("attempt %d continues in the work folder of attempt %d", self.attempt, self.attempt - 1)
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{self.job_id}")
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._beat_once()
        logging.getLogger().removeHandler(self._log_handler)
        self._log_handler.close()


def lease_holder(job: dict[str, Any]) -> str | None:
    """Who holds a running job and for how long its lease still runs: "host:pid:start (25 s left)"."""
    if job["status"] != "running" or not job.get("worker_id"):
        return None
    left = (job.get("lease_expires") or 0) - time.time()
    return f"{job['worker_id']} ({left:.0f} s left)" if left > 0 else f"{job['worker_id']} (lease expired)"


def submit(store: Store, kind: str, config: dict[str, Any], sweep: str | None = None) -> int:
    """Validate a config (its dataclass checks itself) and queue it; nothing is queued if it is invalid.

    The queue position comes from the kind's expected cost, so cheap jobs run first.
    """
    k = kinds.get(kind)
    config = k.normalise(config)
    return store.enqueue(kind, config, priority=k.cost(config), sweep=sweep)


def execute(store: Store, job: dict[str, Any], worker_id: str | None = None,
            land: Lander | None = None, on_progress: Callable[[float, str | None], None] | None = None
            ) -> dict[str, Any]:
    """Run one claimed job to its end and record how it ended. Returns the final job row."""
    job_id = job["id"]
    try:
        kind = kinds.get(job["kind"])
        with JobContext(store, job, worker_id, land, on_progress) as ctx:
            ctx.logger.info("job %s (%s) attempt %s started in pid %s", job_id, job["kind"], ctx.attempt,
                            os.getpid())
            run_id = kind.run(job["config"], ctx)
        store.finish(job_id, "done", run_id=run_id)
    except Cancelled as exc:
        log.info("%s", exc)
        store.finish(job_id, "cancelled", error=str(exc))
    except Exception as exc:  # any failure is the job's, never the worker's
        log.error("job %s failed: %s", job_id, exc)
        store.finish(job_id, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
    return store.job(job_id)


def run_now(kind: str, config: dict[str, Any], store: Store | None = None,
            progress: bool | None = None) -> dict[str, Any]:
    """Validate, enqueue and run a job in this process (the CLI's default).

    ``progress``: show the job's progress on stderr (a bar on a terminal, plain lines with the
    ETA otherwise; see :mod:`pipelines.termprogress`). None: only when stderr is a terminal.
    """
    from .termprogress import TerminalProgress

    store = store or Store()
    job_id = submit(store, kind, config)
    store.claim(job_id)
    show = sys.stderr.isatty() if progress is None else progress
    view = TerminalProgress(f"{kind} job {job_id}") if show else None
    try:
        return execute(store, store.job(job_id), on_progress=view)
    finally:
        if view is not None:
            view.close()
