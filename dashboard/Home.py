"""Entry point: ``streamlit run dashboard/Home.py``.

Defines the pages with ``st.navigation`` (one page one file, in ``dashboard/views/``; a
``pages/`` folder would switch on Streamlit's legacy auto-navigation) and a sidebar status
line. Every rerun starts here, so this file stays cheap: no model, no heavy import.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts dashboard/ on the path, not the repo root
    sys.path.insert(0, str(ROOT))

from dashboard import sidebar  # noqa: E402

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="Model workbench", page_icon=":material/model_training:", layout="wide")

PAGES = {
    "Overview": [("home.py", "Home", ":material/home:", True)],
    "Build": [
        ("data.py", "Data", ":material/dataset:", False),
        ("models.py", "Models", ":material/search:", False),
        ("runs.py", "Runs", ":material/play_circle:", False),
    ],
    "Analyse": [
        ("compare.py", "Compare", ":material/leaderboard:", False),
        ("playground.py", "Playground", ":material/science:", False),
        ("errors.py", "Errors", ":material/rule:", False),
        ("export.py", "Export", ":material/download:", False),
    ],
}

nav = {
    section: [st.Page(VIEWS / f, title=title, icon=icon, default=default)
              for f, title, icon, default in pages if (VIEWS / f).exists()]
    for section, pages in PAGES.items()
}
page = st.navigation(nav)
sidebar.render()
page.run()
