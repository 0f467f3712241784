"""What the Compare and Export pages share: which runs are compared, and cached loads of them.

The selection is a dataset (``?dataset=``, shared with every page through ``dashboard.state``)
or an explicit list of runs (``?runs=a,b``, the URL only: other pages' run picks must not
narrow the comparison). Runs on different split hashes are refused here with the reason, so
both pages show the same refusal.

Caching: a comparison is keyed by the store path, the selection and the ids of the runs in
the store (``state.run_rows`` is itself a 2 s cache), so a new run appears within seconds and
a rerun with nothing new costs a dictionary lookup. Figures are cached per comparison too;
the 100-run bench renders the Compare page from these caches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, state
from pipelines import compare, stats, tables
from pipelines.compare import Comparison
from pipelines.selection import MixedSplitsError

DETAIL_DEFAULT = 6  # per-run charts show this many runs unless the user picks others


def _version(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(r["id"] for r in rows)


@st.cache_data(show_spinner=False, max_entries=16)
def _comparison(store_path: str, dataset_id: str | None, run_ids: tuple[str, ...] | None, fold_sweeps: bool,
                version: tuple[str, ...]) -> Comparison:
    return compare.load_comparison(state.store(), dataset_id=dataset_id, run_ids=list(run_ids) if run_ids else None,
                                   fold_sweeps=fold_sweeps)


@st.cache_data(show_spinner=False, max_entries=16)
def _history(store_path: str, key: tuple, _comp: Comparison) -> pd.DataFrame:
    return _comp.history(state.store())


@st.cache_data(show_spinner=False, max_entries=16)
def _significance(key: tuple, run_a: str, run_b: str, _comp: Comparison) -> dict[str, Any]:
    return stats.significance(_comp, run_a, run_b)


@st.cache_data(show_spinner=False, max_entries=16)
def _table(key: tuple, order: tuple[str, ...], _comp: Comparison) -> pd.DataFrame:
    return tables.display_table(_comp.runs.loc[list(order)])


@st.cache_resource(show_spinner=False, max_entries=32)
def _figures(key: tuple, detail: tuple[str, ...], pair: tuple[str, str] | None, quality: str,
             colors_key: tuple, only: tuple[str, ...] | None, _comp: Comparison, _history: pd.DataFrame,
             _colors: dict[str, str]) -> dict[str, go.Figure]:
    # cache_resource: figures are returned as-is (no pickling per rerun); callers never mutate them.
    return charts.comparison_figures(_comp, _history, _colors, detail_runs=list(detail), pair=pair,
                                     quality_key=quality, only=only)


class Selection:
    """The comparison a page shows (or why there is none)."""

    def __init__(self, comp: Comparison | None, key: tuple, error: str | None = None, explicit: bool = False):
        self.comp, self.key, self.error, self.explicit = comp, key, error, explicit

    def history(self) -> pd.DataFrame:
        return _history(str(state.store().path), self.key, self.comp)

    def significance(self, run_a: str, run_b: str) -> dict[str, Any]:
        return _significance(self.key, run_a, run_b, self.comp)

    def table(self, order: Sequence[str]):
        """The metrics table in this row order, best cells marked and shaded (formatted once per selection)."""
        return tables.styled_table(table=_table(self.key, tuple(order), self.comp))

    def colors(self) -> dict[str, str]:
        """Dashboard-wide run colours (all runs of the store, see state.run_colors)."""
        return state.run_colors()

    def figures(self, detail: Sequence[str], pair: tuple[str, str] | None, quality: str = "macro_f1",
                only: Sequence[str] | None = None) -> dict[str, go.Figure]:
        """The comparison's charts (see charts.comparison_figures), cached per selection."""
        colors = self.colors()
        ids = self.comp.run_ids
        return _figures(self.key, tuple(detail), pair, quality, tuple(colors.get(r) for r in ids),
                        tuple(sorted(only)) if only is not None else None, self.comp, self.history(), colors)


def _url_runs() -> list[str]:
    """``?runs=a,b`` (or repeated ``?runs=a&runs=b``) as a list."""
    out: list[str] = []
    for v in st.query_params.get_all("runs"):
        out += [x.strip() for x in v.split(",") if x.strip()]
    return list(dict.fromkeys(out))


def select(page_key: str) -> Selection:
    """Render the dataset picker and the optional run restriction; load the comparison.

    Returns a Selection whose ``error`` says why nothing can be compared (no runs, mixed
    splits, unknown ids); the caller shows it and stops.
    """
    rows = state.run_rows()
    all_ids = [r["id"] for r in rows]
    by_id = {r["id"]: r for r in rows}
    datasets = state.datasets()
    if not rows:
        return Selection(None, (), "No runs yet. Queue the demo on the Home page or train one on the Runs page.")

    url_runs = _url_runs()
    unknown = [r for r in url_runs if r not in by_id]
    widget = f"{page_key}_runs"
    if st.session_state.get(f"_{widget}_url") != url_runs:  # first run or URL changed (reload, link)
        st.session_state[widget] = [r for r in url_runs if r in by_id]
        st.session_state[f"_{widget}_url"] = url_runs

    left, right = st.columns([1, 2])
    with left:
        dataset_id = state.dataset_picker("Dataset (test split)", key=f"{page_key}_dataset") if datasets else None
    with right:
        ds_names = {d["id"]: d["name"] for d in datasets}
        picked = st.multiselect(
            "Only these runs (optional, any dataset)", all_ids, key=widget,
            format_func=lambda i: f"{state.run_label(by_id[i])} — {ds_names.get(by_id[i]['dataset_id']) or '?'}",
            placeholder="all runs on the chosen dataset's split",
            help="Leave empty to compare every run on the dataset's split. Runs on different splits are refused: "
                 "their test examples differ, so their numbers are not comparable.")
    if picked != url_runs and not (unknown and picked == [r for r in url_runs if r in by_id]):
        if picked:
            st.query_params["runs"] = ",".join(picked)
        elif "runs" in st.query_params:
            del st.query_params["runs"]
        st.session_state[f"_{widget}_url"] = picked
    if unknown:
        st.warning(f"Unknown run id(s) in the link, ignored: {', '.join(unknown)}")

    fold = False
    if any(r.get("sweep") for r in rows):
        fold = st.toggle("Fold each sweep to its best point", key=f"{page_key}_fold",
                         help="The best point of a sweep is chosen on validation macro-F1, never on the test split.")
    explicit = bool(picked)
    version = _version(rows)
    key = (str(state.store().path), None if explicit else dataset_id, tuple(picked) if explicit else None, fold,
           version)
    try:
        comp = _comparison(*key)
    except MixedSplitsError as exc:
        return Selection(None, key, f"Refused: {exc}", explicit)
    except ValueError as exc:
        return Selection(None, key, str(exc), explicit)
    if comp.runs.empty and comp.notes:  # runs exist, on a split that `data prepare --overwrite` replaced
        return Selection(comp, key, f"No runs on the current split of {dataset_id}: " + "; ".join(comp.notes),
                         explicit)
    if comp.runs.empty:
        return Selection(comp, key, f"No runs on {dataset_id} yet: train one on the Runs page or pick another "
                                    "dataset.", explicit)
    return Selection(comp, key, None, explicit)


def describe(comp: Comparison) -> str:
    n_test = comp.runs["n_test"].dropna()
    tests = f", {int(n_test.max())} test examples" if len(n_test) else ""
    task = "multi-label (accuracy = exact match of the whole label set)" if comp.multi_label else "single-label"
    return (f"**{comp.dataset_id}** · split `{comp.split_hash[:8]}` · {len(comp.run_ids)} run"
            f"{'s' if len(comp.run_ids) != 1 else ''}{tests} · {task}")
