"""The SQLite store and the job queue: real SQLite files, real processes."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import time

import pytest

from pipelines.store import Store


@pytest.fixture()
def fresh(tmp_path):
    return Store(tmp_path / "store.sqlite")


def test_queue_life_cycle(fresh):
    a = fresh.enqueue("finetune", {"model": "a"})
    b = fresh.enqueue("finetune", {"model": "b"})
    job = fresh.claim_next(pid=123)
    assert job["id"] == a and job["status"] == "running" and job["worker_pid"] == 123
    assert fresh.claim_next(pid=123)["id"] == b
    assert fresh.claim_next() is None
    fresh.finish(a, "done", run_id="r1")
    fresh.finish(b, "failed", error="boom")
    assert fresh.job(a)["status"] == "done" and fresh.job(a)["progress"] == 1
    assert fresh.job(b)["error"] == "boom"
    again = fresh.retry(b)
    assert fresh.job(again)["status"] == "queued" and fresh.job(again)["config"] == {"model": "b"}


def test_cancel_queued_and_running(fresh):
    queued = fresh.enqueue("finetune", {})
    running = fresh.enqueue("finetune", {})
    assert fresh.request_cancel(queued) == "cancelled"
    assert fresh.claim_next()["id"] == running, "a cancelled job must never be claimed"
    assert fresh.request_cancel(running) == "cancelling"
    assert fresh.heartbeat(running, progress=0.5) is True
    with pytest.raises(KeyError):
        fresh.request_cancel(999)


def test_reap_marks_dead_workers_failed_with_reason(fresh):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = fresh.enqueue("finetune", {})
    fresh.claim(dead, pid=proc.pid)
    alive = fresh.enqueue("finetune", {})
    fresh.claim(alive)  # this test process: alive and beating
    assert fresh.reap_stale() == [dead]
    job = fresh.job(dead)
    assert job["status"] == "failed"
    assert f"pid {proc.pid}" in job["error"] and "no longer exists" in job["error"]
    assert fresh.job(alive)["status"] == "running"
    # a heartbeat older than the limit counts as dead even if the pid exists
    assert fresh.reap_stale(stale_after_s=-1) == [alive]


def _claim_all(path: str, out, barrier) -> None:
    s = Store(path)
    got = []
    barrier.wait()  # start together so the two workers really race
    while (job := s.claim_next()) is not None:
        got.append(job["id"])
        time.sleep(0.005)
    out.put(got)


def test_two_workers_never_claim_the_same_job(fresh):
    ids = {fresh.enqueue("finetune", {"i": i}) for i in range(40)}
    ctx = mp.get_context("spawn")
    q, barrier = ctx.Queue(), ctx.Barrier(2)
    procs = [ctx.Process(target=_claim_all, args=(str(fresh.path), q, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    first, second = q.get(timeout=60), q.get(timeout=60)
    for p in procs:
        p.join(timeout=60)
    assert first and second, "both workers took part in the race"
    assert sorted(first + second) == sorted(ids), "every job claimed exactly once"


def test_kv_ttl_and_runs(fresh):
    fresh.put("hub", "x", {"a": 1})
    assert fresh.get("hub", "x") == {"a": 1}
    assert fresh.get("hub", "x", max_age_s=-1) is None
    fresh.add_run({"id": "r", "kind": "finetune", "dataset_id": "d", "split_hash": "h", "model": "m",
                   "path": "/x", "summary": {"accuracy": 0.5}})
    assert fresh.runs(split_hash="h")[0]["summary"]["accuracy"] == 0.5
    assert fresh.runs(split_hash="other") == []
    fresh.delete_run("r")
    assert fresh.run("r") is None
