"""The Ray executor: ``python -m pipelines worker --executor ray [--address ADDR]``.

The worker process is the Ray *driver*. It claims queued jobs from the store with its own
worker id (it holds every lease and renews the leases of all its in-flight tasks every
few seconds), submits each job as one Ray task with the job's resources, and writes
everything the tasks report into the store. Tasks never open the store (see
:mod:`pipelines.executors.ray_task`, which also says what a node needs).

* Resources: ``num_cpus`` from the config's ``num_cpus``/``cpus`` field when the kind has
  one, else 1; one GPU when the config asks for ``device`` cuda (``auto`` asks for none).
  Several jobs run at once when the cluster has room: ``--max-concurrent``, by default the
  cluster's CPUs divided by one CPU per job. A task computes with as many threads as the
  CPUs Ray reserved for it (``threads.start_remote_job``), so the tasks on a node never
  add up to more threads than its cores. (On one machine the *local* worker stays the
  default and runs one job at a time, so speed and energy figures stay comparable.)
* Retries: Ray's are off (``max_retries=0``); attempts are the store's business
  (``jobs retry`` queues the next attempt). When a task's Ray worker dies, Ray's error
  (``WorkerCrashedError``, ``RayTaskError``, …) reaches the driver, which fails the job with
  the reason and where it ran.
* Cancel: when ``Store.heartbeat`` says a job must stop, the driver tells the relay actor;
  the task's next push learns it and the job raises ``Cancelled`` at its next progress
  report. A task that has not stopped :data:`FORCE_CANCEL_AFTER_S` later is killed.
* Jobs whose kind produces no run (``prepare``) write the workspace itself, so the driver
  runs them in a thread on its own machine, one at a time, as the local worker would.

Ray is imported inside functions: nothing else in the workbench loads it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import kinds, paths, prepared, runs
from ..jobs import execute, land_locally
from ..store import Store, this_worker_id
from .ray_task import RelayChannel, pack, run_task, unpack

log = logging.getLogger(__name__)
remote_log = logging.getLogger("pipelines.ray.task")

RENEW_EVERY_S = 2.0
FORCE_CANCEL_AFTER_S = 60.0
PLACEMENT_KV = "ray"  # kv namespace: job id -> where its task runs (pid, host, node), while it runs


def job_resources(config: dict[str, Any]) -> tuple[float, float]:
    """(CPUs, GPUs) a job asks Ray for."""
    cpus = float(config.get("num_cpus") or config.get("cpus") or 1)
    gpus = 1.0 if str(config.get("device") or "").startswith("cuda") else 0.0
    return cpus, gpus


@dataclass
class InFlight:
    job: dict[str, Any]
    ref: Any
    progress: float | None = None
    message: str | None = "waiting for Ray resources"
    placement: dict[str, Any] | None = None
    stop_sent_at: float | None = None
    killed: bool = False


class RayDriver:
    """One driver per worker process; :meth:`loop` is the worker's main loop."""

    def __init__(self, store: Store, max_concurrent: int | None = None):
        import ray

        self.ray = ray
        self.store = store
        self.worker_id = this_worker_id()
        self.fixed_max = max_concurrent
        self.inflight: dict[int, InFlight] = {}
        self.local: threading.Thread | None = None
        self.channel = ray.remote(num_cpus=0)(RelayChannel).remote()
        self.task = ray.remote(max_retries=0)(run_task)
        self._datasets: dict[str, tuple[float, Any]] = {}  # id -> (dataset.json mtime, ObjectRef of its tar)
        self._renewed = 0.0

    # ---------------------------------------------------------------- capacity
    def max_concurrent(self) -> int:
        if self.fixed_max:
            return self.fixed_max
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))  # nodes may join: asked each time

    def busy(self) -> int:
        return len(self.inflight) + (self.local is not None and self.local.is_alive())

    # ---------------------------------------------------------------- claiming
    def fill(self) -> int:
        """Claim and start jobs while there is room; returns how many were started."""
        started, limit = 0, self.max_concurrent()
        while self.busy() < limit:
            local_free = self.local is None or not self.local.is_alive()
            only = None if local_free else tuple(k.name for k in kinds.predicting())
            job = self.store.claim_next(self.worker_id, kinds=only)
            if job is None:
                break
            started += 1
            try:
                kind = kinds.get(job["kind"])
            except ValueError as exc:
                self.store.finish(job["id"], "failed", error=str(exc))
                continue
            if not kind.produces_runs:
                log.info("job %s (%s) writes the workspace: running it on the driver", job["id"], job["kind"])
                self.local = threading.Thread(target=execute, args=(self.store, job, self.worker_id),
                                              name=f"local-job-{job['id']}", daemon=True)
                self.local.start()
                continue
            try:
                self.submit(job, kind.run.__module__)
            except Exception as exc:  # e.g. the dataset is missing: the job's failure
                log.exception("could not submit job %s", job["id"])
                self.store.finish(job["id"], "failed", error=f"could not submit to Ray: {type(exc).__name__}: {exc}")
        return started

    def submit(self, job: dict[str, Any], module: str) -> None:
        cpus, gpus = job_resources(job["config"])
        dataset_id = job["config"].get("dataset")
        payload = {"job": job, "module": module, "driver": self.worker_id, "dataset_id": dataset_id}
        previous_tar = None
        previous = runs.attempt_dir(job["id"], int(job["attempt"]) - 1)
        current = runs.attempt_dir(job["id"], int(job["attempt"]))
        if job["attempt"] > 1 and previous.is_dir() and not current.exists():
            previous_tar = pack(previous)
            previous.rename(current)  # taken over, as JobContext does locally; kept if the task dies
        ref = self.task.options(num_cpus=cpus, num_gpus=gpus, name=f"job-{job['id']}-a{job['attempt']}"
                                ).remote(payload, self.channel, self._dataset(dataset_id), previous_tar)
        self.inflight[job["id"]] = InFlight(job, ref)
        log.info("job %s (%s) attempt %s submitted to Ray (%g CPU, %g GPU)", job["id"], job["kind"],
                 job["attempt"], cpus, gpus)

    def _dataset(self, dataset_id: str | None) -> Any:
        """The prepared split of a job's dataset (tar bytes), put into Ray's object store once per version."""
        if not dataset_id:
            return None
        folder = prepared.dataset_dir(dataset_id)
        if not (folder / "dataset.json").exists():
            from ..data import ensure_prepared

            ensure_prepared(dataset_id)  # a bundled one is prepared here, on the store's machine
        mtime = (folder / "dataset.json").stat().st_mtime
        cached = self._datasets.get(dataset_id)
        if cached is None or cached[0] != mtime:
            cached = (mtime, self.ray.put(pack(folder)))
            self._datasets[dataset_id] = cached
        return cached[1]

    # ---------------------------------------------------------------- reports
    def pump(self) -> None:
        """Write what the tasks pushed: where they run, progress, metric points, log lines."""
        for job_id, batch in self.ray.get(self.channel.drain.remote()):
            flight = self.inflight.get(job_id)
            if batch.get("placement"):
                where = batch["placement"]
                if flight:
                    flight.placement = where
                self.store.put(PLACEMENT_KV, str(job_id), where)
                log.info("job %s runs in Ray worker pid %s on %s", job_id, where["pid"], where["host"])
            if flight:
                flight.progress = batch["progress"] if batch["progress"] is not None else flight.progress
                flight.message = batch["message"] or flight.message
            for step, name, value, epoch in batch["metrics"]:
                self.store.log_metric(job_id, step, name, value, epoch)
            for line in batch["lines"]:
                remote_log.info("job %s: %s", job_id, line)

    def renew(self, force: bool = False) -> None:
        """Renew every lease (with the latest progress) and relay stop requests."""
        now = time.monotonic()
        if not force and now - self._renewed < RENEW_EVERY_S:
            return
        self._renewed = now
        for job_id, flight in list(self.inflight.items()):
            try:
                stop = self.store.heartbeat(job_id, flight.progress, flight.message, worker_id=self.worker_id)
            except Exception:  # a locked store must not lose the job; the next round retries
                log.exception("heartbeat of job %s failed", job_id)
                continue
            if stop and flight.stop_sent_at is None:
                log.info("job %s must stop (cancel requested or lease lost): telling its task", job_id)
                self.channel.stop.remote(job_id)
                flight.stop_sent_at = now
            elif flight.stop_sent_at and not flight.killed and now - flight.stop_sent_at > FORCE_CANCEL_AFTER_S:
                log.warning("job %s did not stop within %.0f s: killing its task", job_id, FORCE_CANCEL_AFTER_S)
                self.ray.cancel(flight.ref, force=True)
                flight.killed = True

    # ---------------------------------------------------------------- endings
    def collect(self) -> int:
        """Record the end of every finished task; returns how many ended."""
        if not self.inflight:
            return 0
        refs = {f.ref: job_id for job_id, f in self.inflight.items()}
        ready, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=0)
        if ready:
            self.pump()  # the tasks' last pushes arrived before their results
        for ref in ready:
            job_id = refs[ref]
            flight = self.inflight.pop(job_id)
            try:
                self._conclude(flight)
            except Exception as exc:
                log.exception("job %s: could not record its end", job_id)
                self.store.finish(job_id, "failed", error=f"the driver could not land the run: "
                                                          f"{type(exc).__name__}: {exc}")
            finally:
                self.channel.forget.remote(job_id)
                self.store.delete(PLACEMENT_KV, str(job_id))
        return len(ready)

    def _conclude(self, flight: InFlight) -> None:
        job_id, attempt = flight.job["id"], int(flight.job["attempt"])
        try:
            result = self.ray.get(flight.ref)
        except self.ray.exceptions.RayError as exc:
            if flight.stop_sent_at is not None:
                self.store.finish(job_id, "cancelled", error="cancelled: its Ray task was stopped")
                return
            where = flight.placement or {}
            at = f" (Ray worker pid {where['pid']} on {where['host']})" if where else ""
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reason = (f"the Ray task of job {job_id} attempt {attempt} died{at}: {type(exc).__name__}: {first}; "
                      f"retry the job to run it again")
            log.error("%s", reason)
            self.store.finish(job_id, "failed", error=reason)
            return
        work = runs.attempt_dir(job_id, attempt)
        if result["folder"] is not None:
            _replace(work, result["folder"])
        if result["status"] == "done" and result["run"]:
            run_id = land_locally(self.store)(work, result["run"])
            self.store.finish(job_id, "done", run_id=run_id)
            log.info("job %s done: run %s", job_id, run_id)
        elif result["status"] == "done":
            self.store.finish(job_id, "done")
        else:
            log.info("job %s %s: %s", job_id, result["status"], (result["error"] or "").splitlines()[:1])
            self.store.finish(job_id, result["status"], error=result["error"])

    # ---------------------------------------------------------------- main loop
    def loop(self, once: bool = False, poll_s: float = 0.25, idle_exit_s: float | None = None,
             stop: threading.Event | None = None) -> int:
        """Run until the queue is empty (``once``), idle too long, or ``stop`` is set; returns jobs ended."""
        stop = stop or threading.Event()
        reaped = self.store.reap_stale()
        if reaped:
            log.warning("failed %d job(s) whose lease had expired: %s", len(reaped), reaped)
        done, idle_since, limit = 0, time.monotonic(), self.max_concurrent()
        log.info("Ray executor %s: up to %d job(s) at once on %s", self.worker_id, limit,
                 self.ray.cluster_resources())
        while True:
            self.pump()
            self.renew()
            ended = self.collect()
            done += ended
            started = 0 if stop.is_set() else self.fill()
            if started or self.busy():
                idle_since = time.monotonic()
                if started:
                    self.renew(force=True)
            elif stop.is_set() or once or (idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s):
                break
            else:
                self.store.reap_stale()
            if not (started or ended):
                self._wait(poll_s)
        if self.local is not None:
            self.local.join()
        return done

    def _wait(self, poll_s: float) -> None:
        """Sleep until a task ends or ``poll_s`` passed: a finished job is landed at once."""
        if self.inflight:
            self.ray.wait([f.ref for f in self.inflight.values()], num_returns=1, timeout=poll_s)
        else:
            time.sleep(poll_s)


def _replace(folder: Path, data: bytes) -> None:
    """Put a task's returned work folder where the driver keeps this attempt."""
    tmp = folder.with_name(folder.name + ".incoming")
    shutil.rmtree(tmp, ignore_errors=True)
    unpack(data, tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def ray_worker_loop(store: Store | None = None, address: str | None = None, max_concurrent: int | None = None,
                    once: bool = False, poll_s: float = 0.25, idle_exit_s: float | None = None) -> int:
    """The ``worker --executor ray`` entry point: connect (or reuse a ``ray.init`` done by the caller), run.

    Without ``address`` Ray connects to ``RAY_ADDRESS`` or a cluster started on this machine
    with ``ray start``, else starts a private one. SIGTERM stops claiming, lets the in-flight
    tasks finish, then exits.
    """
    import ray

    store = store or Store()
    paths.ensure_dirs()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, logging_level=logging.WARNING,
                 **({} if address else {"include_dashboard": False}))
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, _frame: stop.set())
    driver = RayDriver(store, max_concurrent)
    store.put("worker", "current", {"pid": os.getpid(), "worker_id": driver.worker_id, "started_at": time.time(),
                                    "executor": "ray", "address": address})
    try:
        return driver.loop(once=once, poll_s=poll_s, idle_exit_s=idle_exit_s, stop=stop)
    finally:
        store.delete("worker", "current")
        if started_here:
            ray.shutdown()
