"""A real ``streamlit run dashboard/Home.py`` server and full-page screenshots, for the browser
test (``tests/test_browser.py``) and the README screenshot script (``docs/screenshots.py``);
:func:`stop_process_group` also stops the predictor services that ``tests/test_serve.py`` starts.

The server runs in its own process group, bound to 127.0.0.1, with usage statistics off and
no file watcher; callers stop it with :func:`stop_process_group`. Playwright drives Debian's
chromium (no browser download).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 900}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(home: Path, env_extra: dict[str, str] | None = None, timeout_s: float = 90) -> tuple[Any, str]:
    """Start the dashboard on a free loopback port over workspace ``home``; wait until healthy.

    Returns (process, base url). Its output goes to ``home/streamlit.log``.
    """
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(home), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           **(env_extra or {})}
    env.pop("WORKBENCH_STORE", None)  # the store of ``home``, not one named elsewhere
    log_path = Path(home) / "streamlit.log"
    with open(log_path, "wb") as log:  # the child keeps its own handle
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", "--server.port", str(port),
             "--server.address", "127.0.0.1"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process_group(proc)
            raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.3)


def stop_process_group(proc: Any, timeout_s: float = 20) -> None:
    """SIGTERM a child started with ``start_new_session=True`` and its group; SIGKILL if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def full_page_screenshot(page: Any, path: Path) -> None:
    """Grow the viewport to the main area's scroll height first: Streamlit scrolls inside
    stMain, so a plain ``full_page`` shot would cut the page off."""
    page.wait_for_timeout(800)  # let charts finish their transitions
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]'); return m ? m.scrollHeight : 1000; }")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(900, min(int(height) + 40, 12000))})
    page.wait_for_timeout(600)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)
