"""The collapse warning as the dashboard shows it (Home and Compare read the same fact).

Which runs collapsed and their prediction shares come from :mod:`pipelines.collapse`, the
same function the CLI's ``compare`` and ``runs show`` print, so every surface agrees.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pipelines import collapse


def show(items: list[dict[str, Any]]) -> None:
    """One warning per collapsed run: what is wrong, then predicted shares beside the gold shares."""
    for item in items:
        st.warning(f"**{item['label']}**: {item['warning']}  \n{collapse.shares_text(item['distribution'])}",
                   icon=":material/warning:")


def for_rows(rows: list[dict[str, Any]], label_of) -> list[dict[str, Any]]:
    """Collapsed runs among store rows (each with ``path``), labelled by ``label_of(row)``."""
    out = []
    for r in rows:
        dist = collapse.for_run(r["path"]) if r.get("path") else None
        if dist and dist.get("warning"):
            out.append({"run_id": r["id"], "label": label_of(r), "warning": dist["warning"], "distribution": dist})
    return out
