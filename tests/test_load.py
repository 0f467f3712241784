"""Load: four dashboard sessions render while a worker runs jobs, for a bounded time.

Four AppTest sessions (one process each, cycling Home, Runs, Compare and Data) read the store
while a real worker process runs a stream of ``majority`` jobs that write it (leases,
heartbeats, progress, run rows). Every render must succeed, and nothing may report "database
is locked". The figures (renders, p50/p95 render time, jobs done) are printed for the record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from pipelines import paths
from pipelines.jobs import submit
from pipelines.store import Store
from pipelines.worker import worker_alive

SESSIONS = 4
DURATION_S = 20.0
PAGES = ["views/home.py", "views/runs.py", "views/compare.py", "views/data.py"]
WORKER = ("import tests.kind_majority; from pipelines.worker import worker_loop; "
          "raise SystemExit(0 if worker_loop(idle_exit_s=5) >= 0 else 1)")

pytestmark = pytest.mark.slow


SESSION = """
import json, sys, time
from streamlit.testing.v1 import AppTest
pages, dataset, until, index = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
times, failures = [], []
at = AppTest.from_file(sys.argv[5], default_timeout=60)
at.query_params.update({"dataset": dataset})
at.run()
i = index
while time.time() < until:
    page = pages[i % len(pages)]
    i += 1
    t0 = time.perf_counter()
    try:
        at.switch_page(page)
        at.query_params.update({"dataset": dataset})
        at.run()
    except Exception as exc:
        failures.append(f"{page}: {type(exc).__name__}: {exc}")
        continue
    times.append(time.perf_counter() - t0)
    failures += [f"{page}: {e.value}" for e in at.exception]
print(json.dumps({"times": times, "failures": failures}))
"""


def _session(index: int, dataset: str, until: float, env: dict[str, str]) -> subprocess.Popen:
    """One dashboard session in its own process (compiling page scripts is not thread-safe in CPython)."""
    entry = str(paths.REPO_ROOT / "dashboard" / "Home.py")
    return subprocess.Popen([sys.executable, "-c", SESSION, json.dumps(PAGES), dataset, str(until), str(index), entry],
                            cwd=paths.REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_four_sessions_and_a_worker(workspace, capsys):
    store = Store()
    env = {**os.environ, "WORKBENCH_HOME": workspace["home"]}
    for _ in range(3):
        submit(store, "majority", {"dataset": workspace["dataset"], "sleep_s": 0.5, "speed_samples": 0})
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=paths.REPO_ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not worker_alive(store) and time.monotonic() < deadline:  # else the Runs page would start its own
        time.sleep(0.2)
    until = time.time() + DURATION_S
    sessions = [_session(i, workspace["dataset"], until, env) for i in range(SESSIONS)]
    while time.time() < until:  # keep the worker busy: a job queued every second
        submit(store, "majority", {"dataset": workspace["dataset"], "sleep_s": 0.5, "speed_samples": 0})
        time.sleep(1.0)
    times: list[float] = []
    failures: list[str] = []
    for proc in sessions:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        result = json.loads(out.strip().splitlines()[-1])
        times += result["times"]
        failures += result["failures"]
        if "database is locked" in err:
            failures.append(err[-1000:])
    worker_out, _ = worker.communicate(timeout=180)
    done = len(store.jobs("done", limit=10_000))
    failed = store.jobs("failed", limit=10_000)
    ms = np.asarray(times) * 1e3
    with capsys.disabled():
        print(f"\nload: {SESSIONS} sessions x {DURATION_S:.0f} s: {len(times)} renders, p50 "
              f"{np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms; "
              f"worker: {done} jobs done, {len(failed)} failed")
    assert not failures, failures[:5]
    assert "database is locked" not in worker_out, worker_out[-2000:]
    assert not [j for j in failed if "locked" in (j["error"] or "")]
    assert len(times) >= SESSIONS and done >= 3
