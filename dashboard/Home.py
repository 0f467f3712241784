"""Entry point: ``streamlit run dashboard/Home.py``.

Defines the pages with ``st.navigation`` (one page one file, in ``dashboard/views/``; a
``pages/`` folder would switch on Streamlit's legacy auto-navigation) and a sidebar status
line. Every rerun starts here, so this file stays cheap: no model, no heavy import.
``dashboard`` and ``pipelines`` are imported as the installed package (``pip install -e .``,
done by ``make``), since ``streamlit run`` puts only ``dashboard/`` on the path.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import sidebar, state
from pipelines.store_io import StoreError

VIEWS = Path(__file__).resolve().parent / "views"
# A local image: a ``:material/…:`` page icon makes the browser fetch the favicon from
# fonts.gstatic.com (Streamlit 1.67 builds that URL in the page), and nothing may leave the machine.
# Material icons elsewhere (page links, buttons) come from the font Streamlit serves itself.
FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"

st.set_page_config(page_title="Model workbench", page_icon=str(FAVICON), layout="wide")

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
        ("predict.py", "Predict", ":material/upload_file:", False),
        ("errors.py", "Errors", ":material/rule:", False),
        ("export.py", "Export", ":material/download:", False),
    ],
}

nav = {
    section: [st.Page(VIEWS / f, title=title, icon=icon, default=default)
              for f, title, icon, default in pages]
    for section, pages in PAGES.items()
}
page = st.navigation(nav)
try:
    state.store()
except StoreError as exc:  # a damaged, foreign or unwritable store: say which file and what to do, on every page
    st.error(f"The workbench cannot open its store. {exc}")
    st.stop()
sidebar.render()
page.run()
