"""One end-to-end check in a real browser: a real ``streamlit run dashboard/Home.py`` server,
driven by Playwright with Debian's chromium (no browser download).

The server runs in its own workspace (so the worker it starts sees only the demo jobs) and
its own process group. The demo runs on the "tiny" profile (WORKBENCH_DEMO_PROFILE=tiny):
real MiniLM fine-tunes, shrunk to seconds. The test follows a user: queue the demo on Home,
watch it finish, see Compare's charts, get a side-by-side prediction in Playground, and
download an SVG chart and a CSV table from Export. It also saves a full-page screenshot of
every page into its workspace's ``screenshots/`` folder (or ``WORKBENCH_SCREENSHOTS``), to look
at; the README's screenshots come from a real demo (``docs/screenshots.py``).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM, REPO, VIEWPORT, full_page_screenshot, start_dashboard, stop_process_group

DEMO_DATASET = "rotten_tomatoes-1200"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():  # the README's test command installs it (apt-get install chromium)
    pytest.skip("Debian chromium not installed at /usr/bin/chromium", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def _stop_helpers(home: Path) -> None:
    """Stop the worker and predictor service the dashboard started (each in its own session)."""
    from pipelines.store import Store, _pid_alive

    store = Store(home / "models" / "workbench.sqlite")
    pids = set()
    for ns, key in (("service", "predictor"), ("worker", "current"), ("service", "spawn:worker"),
                    ("service", "spawn:predictor")):
        rec = store.get(ns, key)
        if rec and rec.get("pid"):
            pids.add(int(rec["pid"]))
    for pid in pids:
        if _pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def dashboard_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("browser-home")
    # A 1,200-snippet sample of the embedded dataset (120 test texts), so evaluation takes seconds.
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    env.pop("WORKBENCH_STORE", None)
    subprocess.run([sys.executable, "-m", "pipelines", "data", "prepare", "rotten_tomatoes", "--max-rows", "1200"],
                   cwd=REPO, env=env, check=True, capture_output=True, timeout=300)
    proc, url = start_dashboard(home, {"WORKBENCH_DEMO_PROFILE": "tiny", "WORKBENCH_DEMO_DATASET": DEMO_DATASET})
    yield {"url": url, "home": home}
    stop_process_group(proc)
    _stop_helpers(home)


@pytest.fixture(scope="session")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _screenshot(page, name: str) -> None:
    shots = Path(os.environ.get("WORKBENCH_SCREENSHOTS") or Path(os.environ["WORKBENCH_HOME"]) / "screenshots")
    full_page_screenshot(page, shots / f"{name}.png")


def _no_exception(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def _goto(page, url: str, title: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60_000)


def test_demo_to_prediction_and_downloads(dashboard_server, browser, tmp_path):
    from pipelines.store import Store

    url, home = dashboard_server["url"], dashboard_server["home"]
    store = Store(home / "models" / "workbench.sqlite")
    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    page.set_default_timeout(60_000)

    # Home: queue the tiny demo, then watch the jobs finish on the page itself.
    _goto(page, url, "Text-classification workbench")
    page.get_by_role("button", name="Queue the demo").click()
    expect(page.get_by_text(re.compile(r"Queued \d+ job")).first).to_be_visible()
    queued = store.jobs()
    assert queued and all(j["status"] in ("queued", "running") for j in queued)
    expect(page.get_by_text("Nothing running.")).to_be_visible(timeout=540_000)
    jobs = store.jobs()
    assert [j["status"] for j in jobs] == ["done"] * len(queued), [(j["id"], j["status"], j["error"]) for j in jobs]
    runs = store.runs()
    assert len(runs) == sum(j["kind"] != "prepare" for j in queued) >= 2
    assert {r["dataset_id"] for r in runs} == {DEMO_DATASET}
    # the page redrew itself when the jobs ended: the leaderboard is there, and still there after a reload
    expect(page.get_by_text(f"No runs on `{DEMO_DATASET}` yet")).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    _no_exception(page)
    _screenshot(page, "home")

    # Compare: one chart per section, no refusal.
    _goto(page, url + "/compare", "Compare runs")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=90_000)
    assert page.locator(".js-plotly-plot").count() >= 3
    _no_exception(page)
    _screenshot(page, "compare")

    # Playground: one text, every run side by side with probabilities and latency.
    _goto(page, url + "/playground", "Playground")
    page.get_by_label("Text", exact=True).fill("A gripping, beautifully shot film with a terrific cast.")
    page.get_by_label("Text", exact=True).press("Control+Enter")
    page.get_by_role("button", name="Predict").click()
    shown = min(3, len(runs))  # the page opens with the three best runs selected
    expect(page.get_by_text("Prediction:").nth(shown - 1)).to_be_visible(timeout=180_000)
    assert page.get_by_text("Prediction:").count() == shown
    expect(page.get_by_text(" ms").first).to_be_visible()
    _no_exception(page)
    _screenshot(page, "playground")

    # Export: an SVG chart and the metrics CSV, checked for content.
    _goto(page, url + "/export", "Export")
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_role("button", name="SVG").first.click()
    svg = Path(dl.value.path()).read_text()
    assert svg.lstrip().startswith("<svg") or "<svg" in svg[:500]
    assert "</svg>" in svg
    with page.expect_download() as dl:
        page.get_by_role("button", name="Metrics CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert len(rows) == len(runs)
    names = {r["name"] for r in runs}
    assert names <= {v for row in rows for v in row.values()}, (names, rows[0])
    _no_exception(page)
    _screenshot(page, "export")

    # The remaining pages render without an exception; screenshots for the README.
    _goto(page, url + "/data", "Data")
    page.get_by_role("button", name="Compute").click()  # token lengths, computed in the predictor service
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=120_000)  # class balance + histogram
    _no_exception(page)
    _screenshot(page, "data")
    _goto(page, url + "/models", "Models")
    page.get_by_role("button", name="Search", exact=True).click()  # offline here: the installed catalog answers
    expect(page.get_by_text("candidate(s) from the installed catalog")).to_be_visible()
    _no_exception(page)
    _screenshot(page, "models")
    for path, title, name in (("/runs", "Runs", "runs"), ("/errors", "Errors", "errors")):
        _goto(page, url + path, title)
        _no_exception(page)
        _screenshot(page, name)
    page.close()
