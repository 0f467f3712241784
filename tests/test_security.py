"""The local services and the dashboard against a hostile web page or workspace.

- ``python -m pipelines serve`` (the real process on 127.0.0.1): a POST without the per-start
  secret, with a foreign ``Origin``, a rebound ``Host`` or as ``text/plain`` is refused (403),
  so a page the user visits cannot stop it or make it load things; ``/token-lengths`` loads
  only catalog or downloaded tokenizers, never a path it is given.
- The Playground shows a run named ``<img src=x onerror=alert(1)>`` as text.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time

import pytest

from pipelines import paths
from pipelines.serve import SECRET_HEADER
from pipelines.store import Store
from tests.browser_support import stop_process_group


def _request(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        con.request("POST", path, body=body, headers=headers)
        resp = con.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        con.close()


@pytest.fixture()
def service(workspace):
    proc = subprocess.Popen([sys.executable, "-m", "pipelines", "serve", "--idle-exit", "120", "--threads", "0"],
                            cwd=paths.REPO_ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    store = Store()
    deadline = time.monotonic() + 120
    rec = None
    while time.monotonic() < deadline:
        rec = store.get("service", "predictor")
        if rec and rec["pid"] == proc.pid:
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    yield rec, proc
    stop_process_group(proc)


def test_serve_requires_the_secret_and_refuses_cross_origin(service):
    rec, proc = service
    port, secret = rec["port"], rec["secret"]
    assert len(secret) >= 32
    good = {"Content-Type": "application/json", SECRET_HEADER: secret, "Host": f"127.0.0.1:{port}"}
    refused = [
        ({"Content-Type": "text/plain"}, "Secret"),  # what a web page's simple POST looks like
        ({"Content-Type": "application/json"}, "Secret"),
        ({**good, SECRET_HEADER: "guess"}, "Secret"),
        ({**good, "Origin": "https://evil.example"}, "cross-origin"),
        ({**good, "Origin": "null"}, "cross-origin"),
        ({**good, "Host": "evil.example:80"}, "host"),
        ({**good, "Content-Type": "text/plain"}, "content type"),
    ]
    for headers, word in refused:
        status, body = _request(port, "/shutdown", b"{}", headers)
        assert status == 403 and word in body["error"], (headers, status, body)
    assert proc.poll() is None, "a refused /shutdown must not stop the service"
    for model in ("/etc", str(paths.REPO_ROOT), "../../models", "~/anything"):
        status, body = _request(port, "/token-lengths", json.dumps({"model": model, "texts": ["x"]}).encode(), good)
        assert status == 400 and "not a catalog or downloaded model" in body["error"], (model, body)
    status, body = _request(port, "/warm", b'{"runs": []}', good)
    assert status == 200, body
    status, _ = _request(port, "/shutdown", b"{}", {**good, "Origin": f"http://127.0.0.1:{port}"})
    assert status == 200
    assert proc.wait(timeout=30) == 0
    assert Store().get("service", "predictor") is None


def test_dashboard_client_sends_the_secret(service):
    from dashboard import services

    rec, proc = service
    store = Store()
    assert services.warm(store, [])["errors"] == {}
    assert services.stop_service(store)
    # stop_service sees the leader thread as a zombie; the other threads may still be exiting.
    assert proc.wait(timeout=30) == 0


INJECTED = "<img src=x onerror=alert(1)>"


def test_playground_shows_an_injected_run_name_as_text(workspace):
    """A run named like an HTML tag is escaped wherever the page allows HTML."""
    from streamlit.testing.v1 import AppTest

    from pipelines.jobs import run_now

    job = run_now("majority", {"dataset": workspace["dataset"], "speed_samples": 0, "run_name": INJECTED})
    run_id = job["run_id"]
    store = Store()
    answer = {"results": [{"run_id": run_id, "labels": ["neg", "pos"], "multi_label": False, "proba": [[0.4, 0.6]],
                           "pred": ["pos"], "latency_ms": 1.0, "load_ms": 0.0}], "errors": {}}
    store.put("ui", "playground_last", {"text": "a text", "gold": None, "example": None, "runs": [run_id],
                                        "answer": answer, "at": time.time()})
    try:
        at = AppTest.from_file(str(paths.REPO_ROOT / "dashboard" / "Home.py"), default_timeout=60)
        at.query_params.update({"dataset": workspace["dataset"], "models": run_id})
        at.run()
        at.switch_page("views/playground.py")
        at.query_params.update({"dataset": workspace["dataset"], "models": run_id})
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        html_blocks = [m for m in at.markdown if m.allow_html]
        assert html_blocks, "the run card was not drawn"
        assert all("<img" not in m.value for m in html_blocks), [m.value for m in html_blocks]
        assert any("&lt;img" in m.value for m in html_blocks)
    finally:
        store.delete("ui", "playground_last")
        from pipelines.cli import main

        main(["runs", "delete", run_id])
