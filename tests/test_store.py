"""The SQLite store and the job queue: real SQLite files, real processes."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

from pipelines.store import Store


@pytest.fixture()
def fresh(tmp_path):
    return Store(tmp_path / "store.sqlite")


def test_queue_life_cycle(fresh):
    a = fresh.enqueue("finetune", {"model": "a"})
    b = fresh.enqueue("finetune", {"model": "b"})
    job = fresh.claim_next("other-host:123:1", pid=123)
    assert job["id"] == a and job["status"] == "running" and job["worker_id"] == "other-host:123:1"
    assert job["lease_expires"] > time.time()
    assert fresh.claim_next()["id"] == b
    assert fresh.claim_next() is None
    fresh.finish(a, "done", run_id="r1")
    fresh.finish(b, "failed", error="boom")
    assert fresh.job(a)["status"] == "done" and fresh.job(a)["progress"] == 1
    assert fresh.job(b)["error"] == "boom"
    again = fresh.retry(b)
    job = fresh.job(again)
    assert again == b and job["status"] == "queued" and job["attempt"] == 2 and job["config"] == {"model": "b"}
    with pytest.raises(ValueError, match="only failed or cancelled"):
        fresh.retry(a)  # a done job is not run again by retry
    with pytest.raises(ValueError, match="only failed or cancelled"):
        fresh.retry(b)  # nor a queued one
    with pytest.raises(KeyError):
        fresh.retry(999)


def test_queue_runs_cheapest_first_then_oldest(fresh):
    big = fresh.enqueue("finetune", {"model": "mpnet"}, priority=700)
    small = fresh.enqueue("finetune", {"model": "minilm"}, priority=150)
    llm = fresh.enqueue("prompt", {}, priority=40)
    llm2 = fresh.enqueue("prompt", {}, priority=40)
    assert [fresh.claim_next()["id"] for _ in range(4)] == [llm, llm2, small, big]


def test_cancel_queued_and_running(fresh):
    queued = fresh.enqueue("finetune", {})
    running = fresh.enqueue("finetune", {})
    assert fresh.request_cancel(queued) == "cancelled"
    assert fresh.claim_next()["id"] == running, "a cancelled job must never be claimed"
    assert fresh.request_cancel(running) == "cancelling"
    assert fresh.heartbeat(running, progress=0.5) is True
    with pytest.raises(KeyError):
        fresh.request_cancel(999)


def test_lease_decides_staleness_never_a_pid(fresh):
    # A worker on another host: its pid means nothing here (and this one does not exist here).
    remote = fresh.enqueue("finetune", {})
    fresh.claim(remote, worker_id="gpu-box:999999:1700000000", pid=999_999)
    assert fresh.reap_stale() == [], "a fresh lease is never reaped, whatever pid it names"
    assert fresh.job(remote)["status"] == "running"
    # its heartbeat renews the lease; a heartbeat from anyone else does not, and tells them to stop
    expires = fresh.job(remote)["lease_expires"]
    time.sleep(0.01)
    assert fresh.heartbeat(remote, 0.3, "training", worker_id="gpu-box:999999:1700000000") is False
    assert fresh.job(remote)["lease_expires"] > expires
    assert fresh.heartbeat(remote, worker_id="intruder:1:1") is True
    # once the lease has run out, the job is failed with the holder and the reason
    later = fresh.job(remote)["lease_expires"] + 1
    assert fresh.reap_stale(now=later) == [remote]
    job = fresh.job(remote)
    assert job["status"] == "failed" and "gpu-box:999999" in job["error"] and "lease expired" in job["error"]
    # the dead worker's late heartbeat cannot revive it
    assert fresh.heartbeat(remote, worker_id="gpu-box:999999:1700000000") is True
    assert fresh.job(remote)["status"] == "failed"
    assert fresh.retry(remote) == remote and fresh.job(remote)["attempt"] == 2


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
