"""The predictor service (``python -m pipelines serve``) and the dashboard's process helpers.

Real runs (the training area's MiniLM full and LoRA fixtures), a real service process on
127.0.0.1, real HTTP. The service must answer with exactly what the run saved for its test
set, keep models warm under a memory budget (LRU out), report bad requests precisely, and
go away by itself when idle. The dashboard side must find it, and start a worker only when
none is alive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from pipelines import runs
from pipelines.procs import pid_alive as _pid_alive
from pipelines.serve import SECRET_HEADER
from pipelines.store import Store
from tests.browser_support import stop_process_group

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _post(url: str, body: dict, timeout: float = 300) -> dict:
    """POST as the dashboard does: with the service's per-start secret from its store record."""
    secret = Store().get("service", "predictor")["secret"]
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", SECRET_HEADER: secret})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def _start(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines", "serve", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _wait_record(store: Store, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = store.get("service", "predictor")
        if rec and rec["pid"] == proc.pid:
            return rec
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    raise AssertionError("serve did not register in time")


@pytest.fixture(scope="module")
def service(minilm_full_run, minilm_lora_run):
    """A service in the session workspace, like the one the dashboard starts."""
    store = Store()
    proc = _start(os.environ.copy(), "--idle-exit", "600")
    rec = _wait_record(store, proc)
    yield rec
    stop_process_group(proc)
    assert store.get("service", "predictor") is None, "a stopped service must remove its record"


def test_predict_reproduces_saved_test_predictions(service, minilm_full_run, minilm_lora_run):
    store = Store()
    ids = [minilm_full_run, minilm_lora_run]
    saved = {r: runs.load_predictions(Path(store.run(r)["path"])) for r in ids}
    texts = saved[ids[0]]["text"].head(6).tolist()
    out = _post(service["url"] + "/predict", {"runs": ids, "texts": texts})
    assert out["errors"] == {}
    assert [r["run_id"] for r in out["results"]] == ids
    for res in out["results"]:
        df = saved[res["run_id"]].set_index("text").loc[texts]
        labels = res["labels"]
        proba = np.asarray(res["proba"])
        assert proba.shape == (len(texts), len(labels))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        # auto serves int8 with an fp32 guard where the run measured >= 99.5% agreement: texts near a decision
        # are re-scored in fp32, so labels match the saved ones and confident texts' probabilities move a little
        atol = 0.05 if res["backend"] == "onnx-int8-guarded" else 1e-4
        np.testing.assert_allclose(proba, runs.proba_from_predictions(df, labels), atol=atol)
        assert res["pred"] == df["pred"].tolist()
        assert res["latency_ms"] > 0 and res["load_ms"] > 0  # a fresh service loads each model once
    # both are warm now: a second request loads nothing
    again = _post(service["url"] + "/predict", {"runs": ids, "texts": texts[:1]})
    assert [r["load_ms"] for r in again["results"]] == [0.0, 0.0]
    health = json.loads(urllib.request.urlopen(service["url"] + "/health", timeout=10).read())
    assert {m["run_id"] for m in health["loaded"]} == set(ids)
    assert health["pid"] == service["pid"] and health["used_mb"] > 0


def test_bad_requests_say_what_is_wrong(service, minilm_full_run):
    out = _post(service["url"] + "/predict", {"runs": ["no-such-run", minilm_full_run], "texts": ["fine"]})
    assert "no run 'no-such-run'" in out["errors"]["no-such-run"]
    assert [r["run_id"] for r in out["results"]] == [minilm_full_run]  # the good run still answers
    for body, msg in (({"runs": [minilm_full_run], "texts": []}, "no texts given"),
                      ({"runs": [minilm_full_run], "texts": ["ok", "  "]}, "text #2 is empty"),
                      ({"texts": ["ok"]}, "no runs given")):
        with pytest.raises(urllib.error.HTTPError) as exc:
            _post(service["url"] + "/predict", body)
        assert exc.value.code == 400
        assert msg in json.loads(exc.value.read())["error"]


def test_token_lengths_match_the_pipeline(service):
    from pipelines.data import token_lengths

    texts = ["A short one.", "A somewhat longer review of a film that went on and on and on."]
    out = _post(service["url"] + "/token-lengths", {"model": "minilm", "texts": texts})
    assert out["lengths"] == token_lengths(texts, "minilm").tolist()


def test_dashboard_finds_the_running_service(service, minilm_lora_run):
    from dashboard import services

    store = Store()
    assert services.ensure_service(store) == service["url"]  # reused, not a second process
    out = services.predict(store, [minilm_lora_run], ["What a waste of two hours."])
    assert out["results"][0]["pred"][0] in out["results"][0]["labels"]


def test_lru_eviction_under_a_memory_budget(minilm_full_run, minilm_lora_run):
    from pipelines.serve import ModelPool, store_loader

    loader = store_loader(Store())
    pool = ModelPool(loader, budget_mb=1.0)  # room for one model at a time
    full, load_ms = pool.get(minilm_full_run)
    assert load_ms > 0 and minilm_full_run in pool
    pool.get(minilm_lora_run)
    assert minilm_full_run not in pool and pool.evictions == [minilm_full_run]
    assert [m["run_id"] for m in pool.loaded()] == [minilm_lora_run]
    _, reload_ms = pool.get(minilm_full_run)  # comes back, at the cost of a reload
    assert reload_ms > 0 and pool.evictions == [minilm_full_run, minilm_lora_run]

    roomy = ModelPool(loader, budget_mb=1e6)
    roomy.get(minilm_full_run)
    roomy.get(minilm_lora_run)
    _, warm_ms = roomy.get(minilm_full_run)
    assert warm_ms == 0.0 and roomy.evictions == []
    assert [m["run_id"] for m in roomy.loaded()] == [minilm_lora_run, minilm_full_run]  # LRU order


def test_idle_service_exits_and_unregisters(tmp_path):
    env = {**os.environ, "WORKBENCH_STORE": str(tmp_path / "idle.sqlite")}
    store = Store(tmp_path / "idle.sqlite")
    proc = _start(env, "--idle-exit", "3", "--threads", "0")
    try:
        rec = _wait_record(store, proc)
        assert rec["url"].startswith("http://127.0.0.1:")
        assert proc.wait(timeout=60) == 0
    finally:
        stop_process_group(proc)
    assert store.get("service", "predictor") is None


def test_worker_autostart_starts_one_worker_only(tmp_path, monkeypatch):
    from dashboard import services
    from pipelines.worker import worker_alive

    monkeypatch.setenv("WORKBENCH_STORE", str(tmp_path / "w.sqlite"))
    store = Store(tmp_path / "w.sqlite")
    pid = services.ensure_worker(store)
    try:
        assert pid and _pid_alive(pid)
        assert services.ensure_worker(store) is None  # still starting: no second worker
        deadline = time.monotonic() + 120
        while not worker_alive(store) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker_alive(store) and store.get("worker", "current")["pid"] == pid
        assert services.worker_state(store) == "running"
        assert services.ensure_worker(store) is None
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert not _pid_alive(pid)
    assert services.worker_state(store) == "stopped"
