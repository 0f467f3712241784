"""The worker process: a SIGKILL mid-job leaves a consistent store and no half run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipelines import paths
from pipelines.configs import FinetuneConfig
from pipelines.jobs import submit
from pipelines.store import Store

REPO = paths.REPO_ROOT


def _worker(*args: str) -> subprocess.Popen:
    # a short lease, so the killed worker's job is free again within seconds
    return subprocess.Popen([sys.executable, "-m", "pipelines", "worker", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "WORKBENCH_LEASE_S": "5"}, start_new_session=True)


def _wait(pred, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigkill_mid_job_then_restart_marks_failed_and_retry_completes(rt_small):
    store = Store()
    runs_before = {r["id"] for r in store.runs()}
    folders_before = {p.name for p in paths.runs_dir().iterdir() if not p.name.startswith(".")}
    cfg = FinetuneConfig(dataset=rt_small.id, model="minilm", method="full", max_train_samples=96, max_length=32,
                         batch_size=8, epochs=2.0, run_name="killed").to_dict()
    job_id = submit(store, "finetune", cfg)
    worker = _worker("--once")
    # Kill it once training has really started (progress beyond the start, a loss logged).
    _wait(lambda: store.job(job_id)["status"] == "running" and store.history(job_id), 240, "training to start")
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and the job's own process, as a power cut would
    worker.wait(timeout=30)

    job = store.job(job_id)
    assert job["status"] == "running", "the row is as the dead worker left it, not half-written"
    assert {r["id"] for r in store.runs()} == runs_before, "no run was registered"
    run_folders = {p.name for p in paths.runs_dir().iterdir() if not p.name.startswith(".")}
    assert run_folders == folders_before, "no half run folder where the dashboard looks"

    # The job stays held until its lease expires; then it is failed with the holder and the reason.
    assert store.reap_stale() == []
    _wait(lambda: store.reap_stale() == [job_id], 60, "the dead worker's lease to expire")
    job = store.job(job_id)
    assert job["status"] == "failed"
    assert f":{worker.pid}:" in job["error"] and "lease expired" in job["error"]

    # No work is lost for good: the next attempt of the same job runs to completion.
    retry_id = store.retry(job_id)
    finisher = _worker("--once")
    out, _ = finisher.communicate(timeout=600)
    done = store.job(retry_id)
    assert done["status"] == "done", (done["error"], out[-2000:])
    assert store.run(done["run_id"]) is not None
    assert (paths.runs_dir() / done["run_id"] / "metrics.json").exists()
