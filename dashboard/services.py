"""The dashboard's helper processes: the job worker and the predictor service.

Streamlit reruns the page script on every click, so anything slow or heavy lives in another
process: queued jobs run in ``python -m pipelines worker`` and live predictions come from
``python -m pipelines serve`` over HTTP on 127.0.0.1. Both are started on demand, in a new
session so they outlive the rerun (and the Streamlit server), and both exit by themselves
when idle. A spawn marker in the store (kv namespace ``service``) keeps two reruns, or two
browser tabs, from starting two of them while the first is still importing torch.

Nothing here imports torch or transformers.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from pipelines import paths
from pipelines.commands.worker import EXECUTORS, executor_args
from pipelines.procs import pid_alive, spawn_detached
from pipelines.serve_guard import SECRET_HEADER
from pipelines.store import Store
from pipelines.worker import worker_alive

log = logging.getLogger(__name__)

KV = "service"
PREDICTOR_KEY = "predictor"  # written by pipelines.serve itself
WORKER_IDLE_EXIT_S = 600
SERVICE_IDLE_EXIT_S = 1800
SPAWN_GRACE_S = 120.0  # a freshly spawned process gets this long to register before we try again

_children: list[subprocess.Popen] = []  # kept so finished children are reaped (no zombies)


class ServiceError(RuntimeError):
    """The predictor service could not answer; the message says why and what to do."""


def _reap() -> None:
    for proc in list(_children):
        if proc.poll() is not None:
            _children.remove(proc)


def _spawn(name: str, args: list[str], store: Store) -> int:
    """Start ``python -m pipelines <args>`` detached; log to models/<name>.log; record a marker."""
    _reap()
    logfile = paths.models_dir() / f"{name}.log"
    proc = spawn_detached(args, logfile)
    _children.append(proc)
    store.put(KV, f"spawn:{name}", {"pid": proc.pid, "at": time.time()})
    log.info("started %s (pid %s), log %s", name, proc.pid, logfile)
    return proc.pid


def _recent_spawn(store: Store, name: str) -> int | None:
    """Pid of a process we started a moment ago that is still coming up."""
    _reap()
    mark = store.get(KV, f"spawn:{name}")
    if mark and time.time() - mark["at"] < SPAWN_GRACE_S and pid_alive(mark["pid"]):
        return int(mark["pid"])
    return None


# ------------------------------------------------------------------ worker

def executor_setting(store: Store) -> dict[str, Any]:
    """Which executor the dashboard's worker uses (kv ``settings``/``executor``); local by default."""
    saved = store.get("settings", "executor") or {}
    executor = saved.get("executor") if saved.get("executor") in EXECUTORS else "local"
    return {"executor": executor, "address": saved.get("address") or None}


def set_executor(store: Store, executor: str, address: str | None = None) -> None:
    """Save the choice; it applies to the next worker started (a running one keeps its executor)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    store.put("settings", "executor", {"executor": executor, "address": (address or "").strip() or None})


def ensure_worker(store: Store) -> int | None:
    """Start a worker unless one is alive (or starting). Returns the new pid, or None.

    With the Ray executor chosen, the worker is a Ray driver (``--executor ray``); Ray is
    loaded in that process only, never here.
    """
    if worker_alive(store) or _recent_spawn(store, "worker"):
        return None
    flags = executor_args(**executor_setting(store))
    return _spawn("worker", ["worker", "--idle-exit", str(WORKER_IDLE_EXIT_S), *flags], store)


def worker_state(store: Store) -> str:
    """'running', 'starting' or 'stopped' — for a status line."""
    if worker_alive(store):
        return "running"
    return "starting" if _recent_spawn(store, "worker") else "stopped"


# --------------------------------------------------------------- predictor
def _http(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0,
          secret: str | None = None) -> dict[str, Any]:
    """GET (no body) or POST JSON; a POST carries the service's per-start secret (see pipelines.serve_guard)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[SECRET_HEADER] = secret
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            msg = json.loads(exc.read()).get("error")
        except (ValueError, AttributeError):
            msg = None
        raise ServiceError(msg or f"predictor service answered HTTP {exc.code}") from exc


def service_info(store: Store) -> dict[str, Any] | None:
    """The running predictor service's record plus its health, or None when none answers."""
    rec = store.get(KV, PREDICTOR_KEY)
    if not rec or not pid_alive(rec.get("pid")):
        return None
    try:
        health = _http(rec["url"] + "/health", timeout=2.0)
    except (OSError, ServiceError, ValueError):
        return None
    return {**rec, **health}


def ensure_service(store: Store, wait_s: float = 90.0) -> str:
    """URL of a live predictor service, starting one if needed (waits while it imports torch)."""
    info = service_info(store)
    if info:
        return info["url"]
    if not _recent_spawn(store, "predictor"):
        _spawn("predictor", ["serve", "--idle-exit", str(SERVICE_IDLE_EXIT_S)], store)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        time.sleep(0.3)
        info = service_info(store)
        if info:
            return info["url"]
        mark = store.get(KV, "spawn:predictor")
        if mark and not pid_alive(mark["pid"]):
            break
    raise ServiceError(f"the predictor service did not start; see {paths.models_dir() / 'predictor.log'}")


def _call(store: Store, route: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST to the live service (started if needed) with the secret from its store record."""
    url = ensure_service(store)
    rec = store.get(KV, PREDICTOR_KEY) or {}
    return _http(url + route, body, timeout=timeout, secret=rec.get("secret"))


def predict(store: Store, run_ids: list[str], texts: list[str], timeout: float = 300.0) -> dict[str, Any]:
    """``{"results": [...], "errors": {run_id: message}}`` from the service (models load on first use)."""
    return _call(store, "/predict", {"runs": list(run_ids), "texts": list(texts)}, timeout)


def warm(store: Store, run_ids: list[str], timeout: float = 300.0) -> dict[str, Any]:
    return _call(store, "/warm", {"runs": list(run_ids)}, timeout)


def token_lengths(store: Store, model: str, texts: list[str], timeout: float = 120.0) -> list[int]:
    """Token counts under ``model``'s tokenizer, computed in the service (no transformers here)."""
    return _call(store, "/token-lengths", {"model": model, "texts": list(texts)}, timeout)["lengths"]


def stop_service(store: Store, wait_s: float = 15.0) -> bool:
    """Ask the running service to shut down and wait until it has (tests, benchmarks)."""
    info = service_info(store)
    if not info:
        return False
    try:
        _http(info["url"] + "/shutdown", {}, timeout=5.0, secret=info.get("secret"))
    except (OSError, ServiceError):
        return False
    deadline = time.monotonic() + wait_s
    while pid_alive(info["pid"]) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.1)
    return not pid_alive(info["pid"])


# --------------------------------------------------------------------- CLI
def run_cli(args: list[str], timeout: float = 600.0) -> tuple[bool, str]:
    """Run ``python -m pipelines <args>`` to completion (e.g. ``data prepare``, which tokenizes).

    Returns (ok, message): the output on success, the CLI's one-line error otherwise, so the
    page shows exactly what the command line would have said.
    """
    proc = subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=paths.REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy(), stdin=subprocess.DEVNULL)
    if proc.returncode == 0:
        return True, proc.stdout.strip()
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    if errors:
        return False, errors[-1].removeprefix("error:").strip()
    tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-5:]
    return False, "\n".join(tail) or f"`python -m pipelines {' '.join(args)}` exited with code {proc.returncode}"

