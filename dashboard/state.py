"""Dashboard state: cached reads of the store and run folders, and query-parameter state.

Everything a page shows comes from the store (SQLite) and run folders, read through
short-lived caches so a rerun costs milliseconds and a second tab sees the same thing.
What the user picked (dataset, models, filters) lives in the URL's query parameters and, as a
fallback, in the store (kv ``ui``), so a page switch, reload, shared link or second tab
restores it; ``st.session_state`` is only a convenience on top.

No torch/transformers here: only the store, prepared datasets and parquet files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from pipelines import paths, prepared, runs
from pipelines.runfolder import RunFolder
from pipelines.store import Store

TTL_S = 2.0  # store reads: fresh enough for progress, cheap enough for every rerun


# ------------------------------------------------------------------ store
@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store(path)


def store() -> Store:
    """The store of this workspace (WORKBENCH_HOME / WORKBENCH_STORE)."""
    return _store(str(paths.store_path()))


def _key() -> str:
    return str(paths.store_path())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _datasets(store_key: str) -> list[dict[str, Any]]:
    return store().datasets()


def datasets() -> list[dict[str, Any]]:
    return _datasets(_key())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _runs(store_key: str, dataset_id: str | None) -> list[dict[str, Any]]:
    return store().runs(dataset_id=dataset_id)


def run_rows(dataset_id: str | None = None) -> list[dict[str, Any]]:
    """Runs in the store (optionally of one dataset), oldest first."""
    return _runs(_key(), dataset_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _jobs(store_key: str, limit: int) -> list[dict[str, Any]]:
    s = store()
    s.reap_stale()  # a dead worker's job must not show "running" forever
    return s.jobs(limit=limit)


def job_rows(limit: int = 200) -> list[dict[str, Any]]:
    return _jobs(_key(), limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _kv(store_key: str, namespace: str) -> dict[str, Any]:
    return store().items(namespace)


def kv_items(namespace: str) -> dict[str, Any]:
    return _kv(_key(), namespace)


def refresh() -> None:
    """Forget cached store reads (after this session wrote something)."""
    for fn in (_datasets, _runs, _jobs, _kv):
        fn.clear()


# ------------------------------------------------------------- run folders
@st.cache_data(max_entries=64, show_spinner=False)
def _predictions(path: str, mtime: float) -> pd.DataFrame:
    return runs.load_predictions(Path(path))


def predictions(run: dict[str, Any]) -> pd.DataFrame | None:
    """A run's test predictions (cached per file version), None when the file is missing."""
    f = RunFolder(run["path"]).predictions
    if not f.exists():
        return None
    return _predictions(str(Path(run["path"])), f.stat().st_mtime)


@st.cache_data(max_entries=8, show_spinner=False)
def _prepared(dataset_id: str, folder_mtime: float) -> prepared.PreparedDataset:
    return prepared.load(dataset_id)


def prepared_dataset(dataset_id: str) -> prepared.PreparedDataset | None:
    folder = prepared.dataset_dir(dataset_id)
    meta = folder / "dataset.json"
    if not meta.exists():
        return None
    return _prepared(dataset_id, meta.stat().st_mtime)


# ----------------------------------------------------------- query params
# A choice lives in the URL (``?dataset=…&runs=a,b``) and, as a fallback, in the store (kv
# namespace ``ui``): the sidebar navigation drops query parameters on a page switch, and a
# fresh tab has none, yet both should come back to what the user last looked at.
UI_NS = "ui"


def qp_get(name: str, default: str | None = None) -> str | None:
    if name in st.query_params:
        return st.query_params.get(name)
    saved = kv_items(UI_NS).get(name)
    return saved if isinstance(saved, str) and saved else default


def qp_list(name: str) -> list[str]:
    """A list-valued choice, stored comma-separated (``?runs=a,b``)."""
    raw = qp_get(name)
    return [v for v in raw.split(",") if v] if raw else []


def qp_set(name: str, value: str | list[str] | None) -> None:
    """Record a choice in the URL and the store, writing only what changed."""
    if isinstance(value, list):
        value = ",".join(value)
    value = value or ""
    if value:
        if st.query_params.get(name) != value:
            st.query_params[name] = value
    elif name in st.query_params:
        del st.query_params[name]
    if kv_items(UI_NS).get(name, "") != value:
        store().put(UI_NS, name, value)
        _kv.clear()


def current_dataset(datasets_: list[dict[str, Any]] | None = None) -> str | None:
    """The dataset the pages look at: ``?dataset=``, else the one with most runs, else the first."""
    ds = datasets_ if datasets_ is not None else datasets()
    ids = [d["id"] for d in ds]
    chosen = qp_get("dataset")
    if chosen in ids:
        return chosen
    if not ids:
        return None
    counts: dict[str, int] = {}
    for r in run_rows():
        counts[r["dataset_id"]] = counts.get(r["dataset_id"], 0) + 1
    return max(ids, key=lambda i: (counts.get(i, 0), i == "rotten_tomatoes"))


def dataset_picker(label: str = "Dataset", key: str = "dataset_picker") -> str | None:
    """A select box bound to ``?dataset=`` (shared by every page)."""
    ds = datasets()
    if not ds:
        return None
    ids = [d["id"] for d in ds]
    current = current_dataset(ds)
    names = {d["id"]: f"{d['name']} ({d['id']})" if d["name"] != d["id"] else d["id"] for d in ds}
    picked = st.selectbox(label, ids, index=ids.index(current), format_func=lambda i: names[i], key=key)
    qp_set("dataset", picked)
    return picked


def run_label(run: dict[str, Any]) -> str:
    """How a run is named everywhere: its display name, else its id."""
    return str(run.get("name") or run["id"])


def default_run_selection(rows: list[dict[str, Any]], k: int = 3, param: str = "models") -> list[str]:
    """``?models=`` restricted to the given runs, else the ``k`` best by macro-F1."""
    ids = {r["id"] for r in rows}
    picked = [r for r in qp_list(param) if r in ids]
    if picked:
        return picked
    best = sorted(rows, key=lambda r: -(r["summary"].get("macro_f1") or 0.0))
    return [r["id"] for r in best[:k]]


def dataset_runs(key: str, empty_message: str) -> tuple[str, list[dict[str, Any]]]:
    """Pick a dataset, then its runs; a page with nothing to show says so and stops there."""
    dataset_id = dataset_picker(key=key)
    rows = run_rows(dataset_id) if dataset_id else []
    if not rows:
        st.info(empty_message)
        st.stop()
    return dataset_id, rows


def runs_picker(rows: list[dict[str, Any]], label: str = "Runs", key: str = "runs_picker",
                k: int = 3, param: str = "models") -> list[str]:
    """A multiselect of runs bound to ``?models=`` (Playground and Errors share it; Compare has its
    own ``?runs=`` restriction, which this must not narrow)."""
    labels = {r["id"]: run_label(r) for r in rows}
    picked = st.multiselect(label, list(labels), default=default_run_selection(rows, k, param),
                            format_func=lambda i: labels[i], key=key)
    qp_set(param, picked)
    return picked


def run_colors() -> dict[str, str]:
    """The one run colour map: every run of the store, so a run has one colour on every page and chart.

    Built by :func:`dashboard.charts.theme.run_colors` (by creation order); pages pass it to the chart builders.
    """
    from dashboard.charts.theme import run_colors as colors_by_creation

    return colors_by_creation(r["id"] for r in run_rows())
