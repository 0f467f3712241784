"""CPU threads per process: one setting, one rule, so jobs and the predictor service never oversubscribe.

Why: on 2 cores, a job scoring with torch's 2 OpenMP threads next to the predictor service
with 2 more made scoring 8x slower: OpenMP threads spin at each barrier, and a parallel
region waits for its slowest thread, which the other process keeps preempting. So the
threads of everything running at once must add up to at most the cores.

The setting: ``WORKBENCH_THREADS`` (environment) or the store's kv ``settings``/``threads``
(``{"threads": n}``), environment first. A positive number fixes the threads of each job
*and* the predictor service's concurrency; unset, 0 or ``auto`` applies the rule:

- a job gets all the cores (``cores()``: the CPUs this process may run on) while the
  predictor service is idle, and ``cores - service_share`` while the service is *active*
  (it answered a request within :data:`ACTIVE_S` seconds);
- the service answers with one intra-op thread per model and runs at most
  ``service_share = max(1, cores // 4)`` models at once while a job runs (all the cores
  otherwise), so on 2 cores a busy Playground and a job use 1 thread each.

The job re-reads its share between batches (:class:`Share`, at most every
:data:`RECHECK_S`), so a Playground session that starts mid-evaluation takes its core from
the next batch on. Training keeps the share it started with (the Trainer's threads are
fixed per step). The job and the service announce themselves in kv namespace ``threads``
(key ``job:<pid>`` / ``service``), so each sees the other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from .procs import pid_alive

log = logging.getLogger(__name__)

ENV = "WORKBENCH_THREADS"
KV = "threads"
ACTIVE_S = 60.0  # a Playground user types, reads, types again: one request a minute keeps the service "active"
RECHECK_S = 2.0  # a kv read costs ~1 ms; a batch of 32 MiniLM texts ~150 ms on 2 cores
CHILD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cores() -> int:
    """CPUs this process may run on (the affinity mask, as a container or taskset sets it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def service_share(n_cores: int | None = None) -> int:
    """What the predictor service keeps while a job runs: one core of every four, at least one."""
    return max(1, (n_cores or cores()) // 4)


def setting(store: Any = None) -> int | None:
    """The fixed thread count (env, then the store's kv setting), or None for the automatic rule."""
    raw = os.environ.get(ENV, "").strip().lower()
    if raw in ("", "0", "auto") and store is not None:
        with contextlib.suppress(Exception):  # a missing or locked store means "no saved setting"
            saved = store.get("settings", "threads") or {}
            raw = str(saved.get("threads") or "").strip().lower()
    if raw in ("", "0", "auto"):
        return None
    if not raw.isdigit():  # also refuses a negative number
        raise ValueError(f"{ENV}={raw!r}: give a positive whole number of threads, or 0/auto for the rule")
    return int(raw) or None


def _alive(record: Any) -> bool:
    return isinstance(record, dict) and record.get("pid") != os.getpid() and pid_alive(record.get("pid"))


def service_active(store: Any) -> bool:
    """Did a live predictor service answer a request within ACTIVE_S seconds?"""
    rec = _read(store, "service")
    return _alive(rec) and time.time() - float(rec.get("last_request") or 0) < ACTIVE_S


def job_running(store: Any) -> bool:
    """Does another live process on this machine run a job?"""
    with contextlib.suppress(Exception):
        return any(k.startswith("job:") and _alive(v) for k, v in store.items(KV).items())
    return False


def job_threads(store: Any = None) -> int:
    """The rule for a job process (see the module docstring)."""
    fixed = setting(store)
    if fixed:
        return fixed
    n = cores()
    return max(1, n - service_share(n)) if store is not None and service_active(store) else n


def service_concurrency(store: Any = None) -> int:
    """How many models the service may run at once (each on one intra-op thread)."""
    fixed = setting(store)
    if fixed:
        return fixed
    n = cores()
    return service_share(n) if store is not None and job_running(store) else n


def _read(store: Any, key: str) -> Any:
    if store is None:
        return None
    with contextlib.suppress(Exception):
        return store.get(KV, key)
    return None


def set_torch_threads(n: int) -> None:
    """torch's intra-op pool, only if torch is already loaded (never import it just for this)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def apply(n: int) -> int:
    """Use ``n`` threads in this process and its children (OpenMP/MKL read the env when they load)."""
    n = max(1, int(n))
    for name in CHILD_ENV:
        os.environ[name] = str(n)
    set_torch_threads(n)
    return n


def current() -> int:
    """The threads this process computes with now: torch's pool when loaded, else the env."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.get_num_threads())
    return int(os.environ.get("OMP_NUM_THREADS") or cores())


def report() -> dict[str, Any]:
    """What a run records in ``speed``: the threads used, the cores, and what decided them."""
    return {"threads": current(), "cores": cores(),
            "threads_rule": f"{ENV}" if setting() else _RULE}


@contextlib.contextmanager
def registered(store: Any, key: str, **fields: Any) -> Iterator[None]:
    """Announce this process in kv ``threads``/``key`` while the block runs (the others read it)."""
    record = {"pid": os.getpid(), "at": time.time(), **fields}
    try:
        store.put(KV, key, record)
    except Exception:  # a read-only or locked store: run anyway, just unannounced
        log.warning("could not record %s in the store; thread sharing falls back to this process's view", key)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            if (store.get(KV, key) or {}).get("pid") == os.getpid():
                store.delete(KV, key)


class Share:
    """A job's thread count, re-read at most every RECHECK_S between batches (see the module docstring)."""

    def __init__(self, store: Any = None, fixed: int | None = None):
        self.store = store
        self.fixed = fixed  # a cluster task: the CPUs its scheduler reserved, nothing to re-read
        self._n: int | None = None
        self._at = 0.0

    def threads(self) -> int:
        if self.fixed is not None:
            return self.fixed
        now = time.monotonic()
        if self._n is None or now - self._at > RECHECK_S:
            n = job_threads(self.store)
            if self._n is not None and n != self._n:
                log.info("thread share changed %d -> %d (predictor service %s)", self._n, n,
                         "active" if n < self._n else "idle")
            self._n, self._at = n, now
        return self._n


_JOB_SHARE: Share | None = None
_RULE = "auto: cores, minus the service's share while it is active"  # what decided this process's threads


def job_share() -> Share | None:
    """The running job's share (set by ``run-job``); None outside a job (a CLI run, a test, the service)."""
    return _JOB_SHARE


def start_job(store: Any) -> Share:
    """Called by ``run-job`` before the job starts: decide, apply and remember this process's share."""
    global _JOB_SHARE
    _JOB_SHARE = Share(store)
    n = apply(_JOB_SHARE.threads())
    log.info("job process %s: %d thread(s) of %d core(s)", os.getpid(), n, cores())
    return _JOB_SHARE


def start_remote_job(cpus: float | None) -> Share:
    """Called in a Ray task before the job starts: use exactly the CPUs Ray reserved for it.

    Ray never places tasks on a node beyond its CPUs, so threads = the task's ``num_cpus`` keeps
    everything running there within the cores, as the local rule does on one machine (an
    explicit WORKBENCH_THREADS on the node still wins). Ray reserves whole or fractional
    CPUs; a fraction gets one thread.
    """
    global _JOB_SHARE, _RULE
    n = setting() or max(1, int(cpus or 1))
    _JOB_SHARE = Share(fixed=apply(n))
    _RULE = "ray: the CPUs reserved for the task"
    return _JOB_SHARE


def ort_session_options(n: int) -> Any:
    """ONNX Runtime options for ``n`` intra-op threads, spinning off where cores are shared.

    ORT's worker threads spin after each op by default; on 2 cores next to torch (a job, the
    service) that spinning starved the other process. So spinning stays on only when this
    process has the machine to itself (n equals the cores and at least 4 of them).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(n))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    spin = "1" if n >= cores() and cores() >= 4 else "0"
    opts.add_session_config_entry("session.intra_op.allow_spinning", spin)
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return opts
