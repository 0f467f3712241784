"""The job layer: run kinds as registry entries, isolated attempts, leases, several workers.

Driven by the test-only ``majority`` kind (tests/kind_majority.py): a real job through the
real store, CodeCarbon and run folder that costs about a second, so these tests can afford
real worker processes, SIGKILL and lease expiry.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pipelines import kinds, paths, runs
from pipelines.jobs import run_now, submit
from pipelines.predictor import load_run_predictor
from pipelines.runfolder import RunFolder
from tests.kind_majority import KIND

WORKER = ("import tests.kind_majority; from pipelines.worker import worker_loop; "
          "raise SystemExit(0 if worker_loop(once={once}) >= 0 else 1)")


def _worker(once: bool = True, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER.format(once=once)], cwd=paths.REPO_ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: the worker and its job processes


def _wait(pred, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := pred():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _partials() -> set[str]:
    folder = paths.runs_dir() / ".partial"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_a_new_kind_is_one_module_and_one_registry_line(store, rt_small):
    assert kinds.get("majority") is KIND and KIND in kinds.predicting()
    job = run_now("majority", {"dataset": rt_small.id, "speed_samples": 4})
    assert job["status"] == "done", job["error"]
    folder = RunFolder(store.run(job["run_id"])["path"])
    assert all((folder / name).exists() for name in RunFolder.FILES) and folder.model.is_dir()
    metrics = folder.read_metrics()
    majority = rt_small.train["label"].value_counts(normalize=True).idxmax()
    assert metrics["per_class"][majority]["recall"] == 1.0  # it is what it says
    assert metrics["emissions"]["phases"][0]["phase"] == "train" and metrics["speed"]["throughput"] > 0
    # the shared finish step saved exactly what a reload predicts
    saved = runs.load_predictions(folder.path)
    proba = load_run_predictor(folder.path).predict_proba(saved["text"].head(5).tolist())
    np.testing.assert_allclose(proba, runs.proba_from_predictions(saved.head(5), rt_small.labels))
    assert store.run(job["run_id"])["kind"] == "majority"


def test_invalid_config_is_refused_before_a_job_row_exists(store):
    before = len(store.jobs(limit=10_000))
    with pytest.raises(ValueError, match="seed"):
        submit(store, "majority", {"dataset": "rt_small", "seed": -1})
    with pytest.raises(ValueError, match="unknown run kind 'nope'"):
        submit(store, "nope", {})
    assert len(store.jobs(limit=10_000)) == before


def test_identical_configs_on_two_workers_give_two_clean_runs(store, rt_small):
    config = {"dataset": rt_small.id, "sleep_s": 1.0, "run_name": "twin"}
    ids = [submit(store, "majority", config) for _ in range(2)]
    workers = [_worker() for _ in range(2)]
    outs = [w.communicate(timeout=180)[0] for w in workers]
    jobs = [store.job(i) for i in ids]
    assert [j["status"] for j in jobs] == ["done", "done"], outs
    assert len({j["worker_id"] for j in jobs}) == 2, "each worker took one job"
    folders = [RunFolder(store.run(j["run_id"])["path"]) for j in jobs]
    assert folders[0].path != folders[1].path
    for folder in folders:
        names = {p.name for p in folder.path.iterdir()}
        assert names == {*RunFolder.FILES, RunFolder.MODEL, "phases.jsonl"}, f"stray files in {folder}: {names}"
        phases = folder.read_metrics()["emissions"]["phases"]
        assert [p["phase"] for p in phases] == ["train", "eval"], "each run holds only its own energy"
        log = folder.log.read_text()
        assert log.count("attempt 1 started") == 1, "each run holds only its own log"
    assert not {f"job-{i}-a1" for i in ids} & _partials(), "no work folder left behind"


def test_a_job_process_killed_under_its_worker_fails_at_once_and_the_worker_goes_on(store, rt_small):
    import psutil

    doomed = submit(store, "majority", {"dataset": rt_small.id, "sleep_s": 30.0, "run_name": "oom"})
    after = submit(store, "majority", {"dataset": rt_small.id, "run_name": "after"})
    worker = _worker()
    _wait(lambda: (store.job(doomed)["progress"] or 0) > 0.02, 60, "the job to start")
    job_procs = psutil.Process(worker.pid).children()
    assert len(job_procs) == 1 and "run-job" in " ".join(job_procs[0].cmdline()), "each job runs in its own process"
    job_procs[0].kill()  # as the kernel's out-of-memory killer would
    out, _ = worker.communicate(timeout=120)
    failed = store.job(doomed)
    assert failed["status"] == "failed" and "killed by signal 9" in failed["error"], out
    assert store.job(after)["status"] == "done", "the worker survived its job and went on"


def test_killed_worker_keeps_its_lease_until_expiry_then_retry_completes(store, rt_small):
    job_id = submit(store, "majority", {"dataset": rt_small.id, "sleep_s": 4.0, "run_name": "killed"})
    worker = _worker(WORKBENCH_LEASE_S="4")
    _wait(lambda: (store.job(job_id)["progress"] or 0) > 0.02, 60, "the job to start")
    os.killpg(worker.pid, signal.SIGKILL)  # the machine is gone: the worker and the job's own process
    worker.wait(timeout=30)
    held = store.job(job_id)
    assert held["status"] == "running" and store.reap_stale() == [], "the lease is still fresh"
    assert f":{worker.pid}:" in held["worker_id"]
    _wait(lambda: store.reap_stale() == [job_id], 30, "the lease to expire")
    failed = store.job(job_id)
    assert failed["status"] == "failed" and "lease expired" in failed["error"] and str(worker.pid) in failed["error"]
    assert not [r for r in store.runs() if r["job_id"] == job_id], "no run was registered"
    assert f"job-{job_id}-a1" in _partials()

    store.retry(job_id)
    out, _ = _worker(WORKBENCH_LEASE_S="4").communicate(timeout=120)
    done = store.job(job_id)
    assert done["status"] == "done" and done["attempt"] == 2, out
    folder = RunFolder(store.run(done["run_id"])["path"])
    majority = rt_small.train["label"].value_counts(normalize=True).idxmax()
    assert folder.read_metrics()["per_class"][majority]["recall"] == 1.0
    # the second attempt took the first one's folder over: one folder, both attempts' logs
    log = folder.log.read_text()
    assert "attempt 1 started" in log and "attempt 2 continues in the work folder of attempt 1" in log
    assert not {f"job-{job_id}-a1", f"job-{job_id}-a2"} & _partials()


def test_the_demo_queue_runs_cheapest_first_and_the_largest_encoder_last():
    """The default demo's MiniLM runs (2,000 texts) cost less than an LLM pass over the test split; the
    full-size ones cost more, so there the LLM baselines run right after the reference."""
    from pipelines.demo import demo_jobs

    def order(profile):
        jobs = sorted(demo_jobs(profile), key=lambda kc: kinds.get(kc[0]).cost(kc[1]))
        return [(kind, cfg.get("mode") or cfg.get("method"), cfg["model"]) for kind, cfg in jobs]

    assert order("default") == [("tfidf", None, "tfidf"), ("finetune", "lora", "minilm"),
                                ("finetune", "full", "minilm"), ("prompt", "zero", "smollm2"),
                                ("prompt", "few", "smollm2"), ("finetune", "lora", "mpnet")]
    assert order("full") == [("tfidf", None, "tfidf"), ("prompt", "zero", "smollm2"), ("prompt", "few", "smollm2"),
                             ("finetune", "lora", "minilm"), ("finetune", "full", "minilm"),
                             ("finetune", "lora", "mpnet")]
