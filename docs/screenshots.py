"""Screenshots of every dashboard page over a real workspace, for the README.

    .venv/bin/python -m docs.screenshots            # the repository's workspace (after `make run`'s demo)
    .venv/bin/python -m docs.screenshots --home DIR # another workspace (WORKBENCH_HOME)

Starts its own ``streamlit run`` on a free loopback port (the one `make run` opened is left
alone), visits each page as a user would (a Playground prediction, the Data page's token
lengths, a catalog search on Models), checks that no page shows an exception, and writes
``docs/screenshots/<page>.png``. It queues and trains nothing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tests.browser_support import CHROMIUM, VIEWPORT, full_page_screenshot, start_dashboard, stop_process_group

REPO = Path(__file__).resolve().parent.parent

PLAYGROUND_TEXT = "A gripping, beautifully shot film with a terrific cast, let down by a limp final act."


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=os.environ.get("WORKBENCH_HOME", str(REPO)), help="workspace to show")
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"), help="folder for the PNG files")
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    out = Path(args.out)
    proc, url = start_dashboard(Path(args.home))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(120_000)

            def visit(path: str, title: str, name: str, action=None) -> None:
                page.goto(url + path)
                expect(page.get_by_role("heading", name=title).first).to_be_visible()
                if action:
                    action()
                expect(page.get_by_test_id("stException")).to_have_count(0)
                full_page_screenshot(page, out / f"{name}.png")
                print(f"{name}: {out / (name + '.png')}")

            def predict() -> None:
                page.get_by_label("Text", exact=True).fill(PLAYGROUND_TEXT)
                page.get_by_label("Text", exact=True).press("Control+Enter")
                page.get_by_role("button", name="Predict").click()
                expect(page.get_by_text("Prediction:").first).to_be_visible(timeout=300_000)

            def token_lengths() -> None:
                page.get_by_role("button", name="Compute").click()
                expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=300_000)

            def search() -> None:
                page.get_by_role("button", name="Search", exact=True).click()
                expect(page.get_by_text("candidate(s)").first).to_be_visible()

            def charts() -> None:
                expect(page.locator(".js-plotly-plot").first).to_be_visible()

            visit("", "Text-classification workbench", "home")
            visit("/compare", "Compare runs", "compare", charts)
            visit("/playground", "Playground", "playground", predict)
            visit("/errors", "Errors", "errors")
            visit("/runs", "Runs", "runs")
            visit("/data", "Data", "data", token_lengths)
            visit("/models", "Models", "models", search)
            visit("/export", "Export", "export")
            browser.close()
    finally:
        stop_process_group(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
