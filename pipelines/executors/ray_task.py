"""The remote side of the Ray executor: what runs inside a Ray task, far from the store.

A Ray task may run on another machine, where the workspace's SQLite file is not (and must
not be: SQLite over a network filesystem is unsafe). So a task never opens the store:

* :class:`RemoteJobContext` is the job's ``JobContext`` with ``store=None``. Progress,
  the status line, ``log_metric`` points and log lines are buffered and pushed every second
  to a :class:`RelayChannel` actor; the push's answer carries the cancel flag, which the
  driver sets when the store says the job must stop (a cancel request or a lost lease).
* ``finalize_run`` does not rename anything into the runs folder: its ``land`` callback only
  keeps the runs row, and the task returns the finished work folder as tar bytes plus that
  row. The driver unpacks it into the job's attempt folder and lands it as the local worker
  does (:func:`pipelines.jobs.land_locally`).
* The task works in a private temporary workspace (``WORKBENCH_HOME`` pointed at a fresh
  folder for the task's duration): the driver ships the prepared split files of the job's
  dataset (and the previous attempt's folder when the job is a retry, so resuming works as
  it does locally), so two tasks on one machine never share files and no shared filesystem
  is needed. Model weights are resolved on the node itself (``WORKBENCH_MODEL_CACHE`` or the
  repo's ``models/cache``; ``python -m pipelines prepare-models`` there, or a shared mount).
  So each node needs the same checkout and virtual environment (same Ray and Python) and
  the model weights its jobs use; nothing else of the workspace.
* A Ray worker process runs one task at a time, so a job's process tree holds the job (and
  the push thread) only, as the local worker's process per job does: energy charged by the
  job's own CPU time stays the job's.

Ray is imported inside functions only: the local worker and the dashboard never load it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import kinds, prepared, runs, threads
from ..jobs import Cancelled, JobContext

log = logging.getLogger(__name__)

PUSH_EVERY_S = 1.0
MAX_LINES_PER_PUSH = 200  # a chatty job must not turn the relay into its bottleneck


# ------------------------------------------------------------------ shipping folders
def pack(folder: Path) -> bytes:
    """A folder as uncompressed tar bytes (weights do not compress; speed matters more)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(folder), arcname=".")
    return buf.getvalue()


def unpack(data: bytes, folder: Path) -> Path:
    """Extract :func:`pack` bytes into a new folder (``filter="data"``: no links out, no devices)."""
    folder.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder


# ------------------------------------------------------------------ the relay actor
class RelayChannel:
    """Held by a Ray actor (``num_cpus=0``): tasks push batches in, the driver drains them.

    The one place the driver and its tasks meet, so tasks need no address of the driver
    and the driver needs no port: both only talk to Ray.
    """

    def __init__(self) -> None:
        self._batches: list[tuple[int, dict[str, Any]]] = []
        self._stop: set[int] = set()

    def push(self, job_id: int, batch: dict[str, Any]) -> bool:
        """Take a task's batch; answer whether the job must stop."""
        self._batches.append((job_id, batch))
        return job_id in self._stop

    def drain(self) -> list[tuple[int, dict[str, Any]]]:
        out, self._batches = self._batches, []
        return out

    def stop(self, job_id: int) -> None:
        self._stop.add(job_id)

    def forget(self, job_id: int) -> None:
        self._stop.discard(job_id)


class _Lines(logging.Handler):
    """Keeps formatted log records for the next push."""

    def __init__(self, sink: list[str], lock: threading.Lock):
        super().__init__(logging.INFO)
        self.sink, self.guard = sink, lock  # not ``self.lock``: that is the Handler's own
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("ray"):
            return
        with self.guard:
            if len(self.sink) < 10 * MAX_LINES_PER_PUSH:
                self.sink.append(self.format(record))


class RemoteJobContext(JobContext):
    """A ``JobContext`` without a store: everything the store would get goes to the relay."""

    def __init__(self, job: dict[str, Any], channel: Any, driver_id: str):
        self.landed: dict[str, Any] | None = None
        super().__init__(None, job, driver_id, land=self._keep_row)  # type: ignore[arg-type]
        self._channel = channel
        self._lock = threading.Lock()
        self._metrics: list[tuple[int, str, float, float | None]] = []
        self._lines: list[str] = []
        self._placement: dict[str, Any] | None = {"pid": os.getpid(), "host": socket.gethostname(),
                                                  "node": _node_id()}

    def _keep_row(self, work_dir: Path, row: dict[str, Any]) -> str:
        self.landed = row  # the driver renames the folder into place and inserts the row
        return row["id"]

    def log_metric(self, step: int, name: str, value: float, epoch: float | None = None) -> None:
        with self._lock:
            self._metrics.append((int(step), name, float(value), epoch))

    def _beat(self) -> None:
        while not self._stop.wait(PUSH_EVERY_S):
            self._beat_once()

    def _beat_once(self) -> None:
        import ray

        with self._lock:
            batch = {"progress": self._progress, "message": self._message, "metrics": self._metrics,
                     "lines": self._lines[:MAX_LINES_PER_PUSH], "placement": self._placement}
            self._metrics = []
            del self._lines[:MAX_LINES_PER_PUSH]  # in place: the log handler holds this list
        try:
            if ray.get(self._channel.push.remote(self.job_id, batch), timeout=30):
                self.cancel_requested = True
            self._placement = None
        except Exception:  # the driver is busy or gone; keep the data for the next push
            log.exception("could not reach the driver's relay")
            with self._lock:
                self._metrics[:0] = batch["metrics"]
                self._lines[:0] = batch["lines"]

    def __enter__(self) -> RemoteJobContext:
        super().__enter__()
        self._relay = _Lines(self._lines, self._lock)
        logging.getLogger().addHandler(self._relay)
        self._beat_once()  # the driver learns at once where the job runs
        return self

    def __exit__(self, *exc: Any) -> None:
        logging.getLogger().removeHandler(self._relay)
        super().__exit__(*exc)


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside a Ray task (a direct call in a test or a debugger)
        return None


@contextlib.contextmanager
def private_workspace(prefix: str) -> Iterator[Path]:
    """Point WORKBENCH_HOME at a fresh folder while the task runs (one task per Ray worker process)."""
    old = os.environ.get("WORKBENCH_HOME")
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        yield home
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_HOME", None)
        else:
            os.environ["WORKBENCH_HOME"] = old
        shutil.rmtree(home, ignore_errors=True)


def run_task(payload: dict[str, Any], channel: Any, dataset: bytes | None = None,
             previous: bytes | None = None) -> dict[str, Any]:
    """The Ray task body: run one attempt of one job; return how it ended, with its folder.

    ``payload``: ``job`` (the claimed row), ``module`` (imported first, so kinds registered
    outside :mod:`pipelines.kinds`, like the tests' kind, exist here too), ``driver`` (the
    lease holder's worker id), ``dataset_id``. ``dataset``: tar bytes of that prepared
    folder (the driver passes one object-store reference for all jobs on a dataset);
    ``previous``: tar bytes of the previous attempt's work folder when the job is a retry.
    Returns ``{"status": "done"|"failed"|"cancelled", "error", "run" (the runs row),
    "folder" (tar bytes of the work folder, or None)}``. Failures are returned, not raised:
    an exception that reaches Ray means the task itself broke, not the job.
    """
    import ray

    importlib.import_module(payload["module"])
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    job = payload["job"]
    with private_workspace(f"workbench-job{job['id']}-"):
        if dataset is not None:
            unpack(dataset, prepared.dataset_dir(payload["dataset_id"]))
        if previous is not None:
            unpack(previous, runs.attempt_dir(job["id"], int(job["attempt"]) - 1))
        return _run_attempt(job, channel, payload["driver"], cpus)


def _run_attempt(job: dict[str, Any], channel: Any, driver_id: str, cpus: float | None) -> dict[str, Any]:
    ctx = RemoteJobContext(job, channel, driver_id)
    result: dict[str, Any] = {"status": "done", "error": None, "run": None, "folder": None}
    try:
        kind = kinds.get(job["kind"])
        with ctx:
            ctx.logger.info("job %s (%s) attempt %s started in pid %s on %s (Ray task)", job["id"], job["kind"],
                            ctx.attempt, os.getpid(), socket.gethostname())
            n = threads.start_remote_job(cpus).threads()
            ctx.logger.info("%d thread(s) (%s CPU reserved by Ray, %d core(s) on the node)", n, cpus, threads.cores())
            kind.run(job["config"], ctx)
        result["run"] = ctx.landed
    except Cancelled as exc:
        result.update(status="cancelled", error=str(exc))
    except Exception as exc:  # the job's failure, reported like the local worker reports it
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
    if ctx.work_dir.is_dir():
        result["folder"] = pack(ctx.work_dir)
    return result
