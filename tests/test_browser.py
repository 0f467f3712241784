"""One end-to-end check in a real browser: a real ``streamlit run dashboard/Home.py`` server,
driven by Playwright with Debian's chromium (no browser download).

The server runs in its own, empty workspace (so the worker it starts sees only this test's
jobs) and its own process group. The test follows a user who brings their own spreadsheet and
never opens a terminal (issue 11's acceptance): upload a Windows-1252 CSV with bare carriage
returns inside unquoted fields and HTML in some texts, see the detected encoding and the
preview, pick the columns, prepare; queue the derived LLM (Gemma: 3 classes) zero-shot on a few
test texts from the Runs page (which queues the TF-IDF reference too, the cheap run), read the duration estimate,
wait for both, read the result and any collapse warning on Compare, get a side-by-side
prediction in Playground and download an SVG chart and a CSV table from Export. Every request
the page makes is recorded and must go to 127.0.0.1 (nothing leaves the machine). A full-page
screenshot of each step goes into the workspace's ``screenshots/`` folder (or
``WORKBENCH_SCREENSHOTS``), to look at; the README's screenshots come from a real demo
(``docs/screenshots.py``).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser_support import CHROMIUM, VIEWPORT, full_page_screenshot, start_dashboard, stop_process_group
from tests.own_data_files import tweet_rows, write_tweets_csv

LOCAL_HOSTS = {"127.0.0.1", "localhost"}

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():  # the README's test command installs it (apt-get install chromium)
    pytest.skip("Debian chromium not installed at /usr/bin/chromium", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def _stop_helpers(home: Path) -> None:
    """Stop the worker and predictor service the dashboard started (each in its own session)."""
    from pipelines.procs import pid_alive as _pid_alive
    from pipelines.store import Store

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
    home = tmp_path_factory.mktemp("browser-home")  # empty: no dataset, no run, no job
    proc, url = start_dashboard(home, {"WORKBENCH_DEMO_PROFILE": "tiny"})
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


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit select box labelled ``label``, as a user does (open, click).

    A click that lands while the page reruns (just after an upload) opens nothing: once in CI the
    list never showed. Like a user, open it again if it did not open."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        box.click()
        try:
            choice.wait_for(state="visible", timeout=20_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    choice.click()


def _requests_stay_local(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    return seen


def test_own_csv_to_comparison_prediction_and_downloads(dashboard_server, browser, tmp_path):
    from pipelines import collapse
    from pipelines.compare import load_comparison
    from pipelines.store import Store

    url, home = dashboard_server["url"], dashboard_server["home"]
    store = Store(home / "models" / "workbench.sqlite")
    # 600 tweets in cp1252: 20 with bare CRs inside unquoted fields, 30 with HTML
    csv_path = write_tweets_csv(tmp_path / "mes tweets.csv", tweet_rows(600, breaks=20, url_tail=6, html=30))
    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    page.set_default_timeout(60_000)
    requests = _requests_stay_local(page)

    # Home: an empty workspace says where to start.
    _goto(page, url, "Text-classification workbench")
    expect(page.get_by_text("No dataset prepared yet")).to_be_visible()
    _screenshot(page, "01-home-empty")

    # Data: upload, see the detected encoding and the preview, pick the columns, prepare.
    _goto(page, url + "/data", "Data")
    page.get_by_role("tab", name="Upload a file").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv_path))
    expect(page.get_by_text(re.compile(r"Encoding: cp1252"))).to_be_visible(timeout=90_000)
    expect(page.get_by_text(re.compile(r"CSV · 600 rows · 2 columns"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"20 rows hold a carriage return inside a field"))).to_be_visible()
    _pick(page, "Label column", "sentiment")
    _no_exception(page)
    _screenshot(page, "02-data-preview")
    page.get_by_role("button", name=re.compile(r"^Save as")).click()
    expect(page.get_by_text(re.compile(r"Saved dataset"))).to_be_visible(timeout=240_000)
    _no_exception(page)
    _screenshot(page, "03-data-prepared")
    [ds] = store.datasets()
    assert ds["n_train"] + ds["n_validation"] + ds["n_test"] == 600, "every row kept, none cut at a CR"

    # Runs: the derived LLM zero-shot on 12 test texts; the estimate is shown before queueing.
    _goto(page, url + "/runs", "Runs")
    page.get_by_text("Prompt an LLM (zero/few-shot)").click()
    page.get_by_label("max test samples", exact=True).fill("12")
    page.get_by_label("max test samples", exact=True).press("Tab")
    page.get_by_text("All settings").click()
    page.get_by_label("speed samples", exact=True).fill("4")
    page.get_by_label("speed samples", exact=True).press("Tab")
    expect(page.get_by_text("Estimated duration on this machine")).to_be_visible()
    expect(page.get_by_text(re.compile(r"nothing measured on this machine yet"))).to_be_visible()
    _screenshot(page, "04-runs-estimate")
    page.get_by_role("button", name="Queue 1 prompt job").click()
    expect(page.get_by_text(re.compile(r"Queued 1 prompt job")).first).to_be_visible()
    queued = store.jobs()
    assert sorted(j["kind"] for j in queued) == ["prompt", "tfidf"], "the TF-IDF reference comes along"
    prompt_cfg = next(j["config"] for j in queued if j["kind"] == "prompt")
    assert (prompt_cfg["model"], prompt_cfg["max_test_samples"], prompt_cfg["speed_samples"]) == (None, 12, 4), \
        "the page leaves the LLM to the measured default for this dataset"

    # Home: watch both finish on the page itself.
    _goto(page, url, "Text-classification workbench")
    expect(page.get_by_text("Nothing running.")).to_be_visible(timeout=420_000)
    jobs = store.jobs()
    assert [j["status"] for j in jobs] == ["done"] * 2, [(j["id"], j["status"], j["error"]) for j in jobs]
    runs = store.runs()
    assert len(runs) == 2 and {r["dataset_id"] for r in runs} == {ds["id"]}
    assert {r["model"] for r in runs} == {"tfidf", "gemma3-270m"}, "three classes, zero-shot: Gemma, as measured"
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    _no_exception(page)
    _screenshot(page, "05-home-done")

    # Compare: the result, and the collapse warning exactly when a run collapsed.
    _goto(page, url + "/compare", "Compare runs")
    # the page renders chart by chart: wait for the third rather than count the moment the first shows
    expect(page.locator(".js-plotly-plot").nth(2)).to_be_visible(timeout=90_000)
    for r in runs:
        expect(page.get_by_test_id("stDataFrame").first).to_contain_text(r["name"])
    collapsed = collapse.collapsed_runs(load_comparison(store, ds["id"]))
    for item in collapsed:
        expect(page.get_by_text(item["warning"][:60]).first).to_be_visible()
    _no_exception(page)
    _screenshot(page, "06-compare")

    # Runs again: the next estimate for this model comes from what was just measured here.
    _goto(page, url + "/runs", "Runs")
    page.get_by_text("Prompt an LLM (zero/few-shot)").click()
    expect(page.get_by_text(re.compile(r"from 1 run\(s\) measured here"))).to_be_visible()
    _no_exception(page)
    _screenshot(page, "07-runs-measured-estimate")

    # Playground: one text, both runs side by side with probabilities and latency.
    _goto(page, url + "/playground", "Playground")
    page.get_by_label("Text", exact=True).fill("“génial” – merci et bravo, très réussi")
    page.get_by_label("Text", exact=True).press("Control+Enter")
    page.get_by_role("button", name="Predict").click()
    expect(page.get_by_text("Prediction:").nth(len(runs) - 1)).to_be_visible(timeout=180_000)
    assert page.get_by_text("Prediction:").count() == len(runs)
    expect(page.get_by_text(" ms").first).to_be_visible()
    _no_exception(page)
    _screenshot(page, "08-playground")

    # Export: an SVG chart and the metrics CSV, checked for content.
    _goto(page, url + "/export", "Export")
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_role("button", name="SVG").first.click()
    svg = Path(dl.value.path()).read_text()
    assert "<svg" in svg[:500] and "</svg>" in svg
    with page.expect_download() as dl:
        page.get_by_role("button", name="Metrics CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert len(rows) == len(runs)
    assert {r["name"] for r in runs} <= {v for row in rows for v in row.values()}, (runs, rows[0])
    _no_exception(page)
    _screenshot(page, "09-export")

    # The remaining pages render without an exception.
    _goto(page, url + "/models", "Models")
    page.get_by_role("button", name="Search", exact=True).click()  # offline here: the installed catalog answers
    expect(page.get_by_text("candidate(s) from the installed catalog")).to_be_visible()
    _no_exception(page)
    _screenshot(page, "10-models")
    _goto(page, url + "/errors", "Errors")
    _no_exception(page)
    _screenshot(page, "11-errors")
    page.close()

    outside = sorted({u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
                      and urlparse(u).hostname not in LOCAL_HOSTS})
    assert not outside, f"requests left the machine: {outside}"
    assert len(requests) > 50, "the recorder saw the page's requests"
