"""The Ray executor (``worker --executor ray``), with a real Ray and the real store.

One private Ray (2 CPUs) for the whole module, driven by ``tests/ray_driver.py``, which runs
the real worker command. Ray probes outside addresses at start-up, and tests talk to
127.0.0.1 only, so the driver runs inside a loopback-only network namespace
(``unshare -n``; needs root or CAP_SYS_ADMIN, which CI has — skipped with the reason where
it is refused). The jobs are the tests' ``majority`` kind: a second each, ``sleep_s`` to
stretch them so they can be caught running, cancelled or killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pandas as pd
import pytest

from pipelines import paths, runs
from pipelines.jobs import run_now, submit
from pipelines.runfolder import RunFolder
from pipelines.store import FINAL
from tests import kind_majority  # noqa: F401 - registers the test kind here too

START_S = 120  # Ray's start on 2 busy cores, plus imports


def _unshare_refused() -> str | None:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip is not installed"
    res = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    return None if res.returncode == 0 else f"`unshare -n` is refused here: {res.stderr.strip()}"


class Driver:
    """The driver process and everything it printed so far."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines[-80:])


def _wait(pred, timeout: float, what: str, driver: Driver | None = None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := pred():
            return value
        if driver and driver.proc.poll() is not None:
            raise AssertionError(f"the driver exited while waiting for {what}:\n{driver.output()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"; driver said:\n{driver.output()}" if driver else ""))


@pytest.fixture(scope="module")
def ray_worker(rt_small):
    """``worker --executor ray`` on a private 2-CPU Ray, up for the whole module."""
    if why := _unshare_refused():
        pytest.skip(why)
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    cmd = f"ip link set lo up && exec {sys.executable} -m tests.ray_driver {temp}"
    proc = subprocess.Popen(["unshare", "-n", "sh", "-c", cmd], cwd=paths.REPO_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    driver = Driver(proc)
    _wait(lambda: any(line.startswith("RAY-READY") for line in driver.lines), START_S, "Ray to start", driver)
    yield driver
    proc.send_signal(signal.SIGTERM)  # stop claiming, let in-flight tasks end, shut Ray down
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(temp, ignore_errors=True)


def _final(store, job_id):
    job = store.job(job_id)
    return job if job["status"] in FINAL else None


def _running(store, job_id) -> bool:
    job = store.job(job_id)
    return job["status"] == "running" and 0 < (job["progress"] or 0) < 1


def test_two_jobs_run_at_once_and_predict_as_the_local_worker(store, rt_small, ray_worker):
    config = {"dataset": rt_small.id, "sleep_s": 3.0, "run_name": "ray-twin"}
    ids = [submit(store, "majority", config) for _ in range(2)]
    _wait(lambda: all(_running(store, i) for i in ids), 90, "both jobs running at once", ray_worker)
    where = store.items("ray")
    assert len({where[str(i)]["pid"] for i in ids}) == 2, "two Ray worker processes, one per job"
    jobs = [_wait(lambda i=i: _final(store, i), 90, f"job {i} to end", ray_worker) for i in ids]
    assert [j["status"] for j in jobs] == ["done", "done"], [j["error"] for j in jobs]
    assert all(f":{ray_worker.proc.pid}:" in j["worker_id"] for j in jobs), "the driver held both leases"
    assert max(j["started_at"] for j in jobs) < min(j["finished_at"] for j in jobs)

    local = run_now("majority", config, store)
    assert local["status"] == "done", local["error"]
    expected = runs.load_predictions(RunFolder(store.run(local["run_id"])["path"]).path)
    for job in jobs:
        folder = RunFolder(store.run(job["run_id"])["path"])
        assert folder.path.parent == paths.runs_dir(), "landed in this workspace by the driver"
        names = {p.name for p in folder.path.iterdir()}
        assert names == {*RunFolder.FILES, RunFolder.MODEL, "phases.jsonl"}, names
        log = folder.log.read_text()
        assert "(Ray task)" in log
        assert "1 thread(s) (1.0 CPU reserved" in log, "threads = the CPUs Ray reserved, not the node's cores"
        pd.testing.assert_frame_equal(runs.load_predictions(folder.path), expected)
    assert not any(runs.attempt_dir(i).exists() for i in ids), "no work folder left behind"
    assert not store.items("ray"), "placements are forgotten when jobs end"


def test_cancel_reaches_the_task(store, rt_small, ray_worker):
    job_id = submit(store, "majority", {"dataset": rt_small.id, "sleep_s": 30.0, "run_name": "ray-cancel"})
    _wait(lambda: _running(store, job_id), 90, "the job to run", ray_worker)
    assert store.request_cancel(job_id) == "cancelling"
    job = _wait(lambda: _final(store, job_id), 30, "the job to stop", ray_worker)
    assert job["status"] == "cancelled" and "cancelled" in job["error"], job
    assert not [r for r in store.runs() if r["job_id"] == job_id]


def test_killed_ray_worker_fails_the_job_with_the_reason_and_retry_completes(store, rt_small, ray_worker):
    job_id = submit(store, "majority", {"dataset": rt_small.id, "sleep_s": 5.0, "run_name": "ray-killed"})
    where = _wait(lambda: store.get("ray", str(job_id)), 90, "the task to report its pid", ray_worker)
    os.kill(where["pid"], signal.SIGKILL)
    failed = _wait(lambda: _final(store, job_id), 60, "the job to fail", ray_worker)
    assert failed["status"] == "failed", failed
    assert "died" in failed["error"] and f"pid {where['pid']}" in failed["error"], failed["error"]
    assert "WorkerCrashedError" in failed["error"], failed["error"]
    assert not [r for r in store.runs() if r["job_id"] == job_id], "no run was registered"

    store.retry(job_id)
    done = _wait(lambda: _final(store, job_id), 90, "the retried job to end", ray_worker)
    assert done["status"] == "done" and done["attempt"] == 2, done["error"]
    folder = RunFolder(store.run(done["run_id"])["path"])
    majority = rt_small.train["label"].value_counts(normalize=True).idxmax()
    assert folder.read_metrics()["per_class"][majority]["recall"] == 1.0
    assert "attempt 2 started" in folder.log.read_text()


def test_the_dashboard_setting_becomes_worker_flags_without_loading_ray(store):
    code = ("import sys; from dashboard import services; from pipelines.store import Store; s = Store(); "
            "services.set_executor(s, 'ray', ' head:6379 '); print(services.executor_args(**services.executor_setting(s)));"
            "services.set_executor(s, 'local'); print(services.executor_args(**services.executor_setting(s)));"
            "import pipelines.cli; pipelines.cli.build_parser(); assert 'ray' not in sys.modules, 'ray was imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=paths.REPO_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["['--executor', 'ray', '--address', 'head:6379']", "[]"]
    with pytest.raises(ValueError, match="unknown executor"):
        from dashboard import services

        services.set_executor(store, "dask")
