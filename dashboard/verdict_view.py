"""The verdict as the dashboard shows it, on Home and Compare (one builder: :mod:`pipelines.verdict`).

Each sentence ends with a link to the Compare-page chart it comes from; on Home the links
open Compare on the same dataset (and, for a significance claim, with that pair chosen).
The paired tests behind it cost a second or two, so the verdict is cached per comparison.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import state
from pipelines import compare, sweeps, verdict
from pipelines.selection import MixedSplitsError

TITLE = "Verdict"


def seed_groups(comp: compare.Comparison) -> dict[str, list[str]]:
    """The seed groups among a comparison's runs (store rows read through the page cache)."""
    return sweeps.seed_groups_among(state.store(), comp.run_ids, state.run_rows())


@st.cache_data(show_spinner=False, max_entries=16)
def _for_comparison(key: tuple, _comp: compare.Comparison) -> verdict.Verdict:
    return verdict.verdict_for(_comp, seed_groups(_comp))


@st.cache_data(show_spinner=False, max_entries=16)
def _for_dataset(store_path: str, dataset_id: str, version: tuple[str, ...]) -> verdict.Verdict | None:
    try:
        comp = compare.load_comparison(state.store(), dataset_id=dataset_id)
    except (MixedSplitsError, ValueError):
        return None
    return verdict.verdict_for(comp, seed_groups(comp)) if comp.run_ids else None


def _render(v: verdict.Verdict | None, page: str, dataset: str | None) -> None:
    if v is None:
        return
    with st.container(border=True):
        st.markdown(f"**{TITLE}** for `{v.dataset_id}`")
        st.markdown(v.markdown(page, dataset))
        st.caption("Significance: paired bootstrap on the same test texts (95%). Each link opens the chart the "
                   "sentence comes from.")


def show_comparison(comp: compare.Comparison, key: tuple) -> None:
    """On the Compare page: the verdict of the comparison shown, links to anchors on this page."""
    with st.spinner("Weighing the runs…"):
        _render(_for_comparison(key, comp), "", comp.dataset_id)


def show_dataset(dataset_id: str, rows: list[dict[str, Any]]) -> None:
    """On Home: the verdict of every run of the dataset's current split, links to the Compare page."""
    with st.spinner("Weighing the runs…"):
        v = _for_dataset(str(state.store().path), dataset_id, tuple(r["id"] for r in rows))
    _render(v, "compare", dataset_id)
