"""Models: search candidates (the Hub when reachable, the installed catalog otherwise) and shortlist them.

The search itself is ``pipelines.hub.search`` — bounded in time, with one line saying why
the catalog answered when the Hub could not. Its result is saved in the store (kv ``ui``),
so a reload or another tab shows the same list without searching again; the shortlist is
per dataset (kv ``shortlist``) and feeds the Runs page.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard import state
from pipelines.catalog import SearchQuery, human_count, parse_count, shortlist, shortlist_add, shortlist_remove
from pipelines.hub import search

SEARCH_KEY = "model_search"
TASKS = {"Encoders (to fine-tune)": "feature-extraction", "Encoders, fill-mask": "fill-mask",
         "Text classifiers": "text-classification", "LLMs (to prompt)": "text-generation"}
LICENCES = ["apache-2.0", "mit", "bsd-3-clause", "cc-by-4.0", "cc-by-sa-4.0", "gemma", "llama3", "openrail"]



def _add(dataset_id: str, by_id: dict) -> None:
    picked = st.session_state.get("m_pick") or []
    for mid in picked:
        shortlist_add(dataset_id, by_id[mid], state.store())
    st.session_state["m_pick"] = []
    st.toast(f"Added {len(picked)} model(s) to the shortlist of {dataset_id}")


def _remove(dataset_id: str) -> None:
    for mid in st.session_state.get("m_drop") or []:
        shortlist_remove(dataset_id, mid, state.store())
    st.session_state["m_drop"] = []


st.title("Models")
dataset_id = state.dataset_picker(key="models_dataset")

with st.form("search"):
    c1, c2, c3 = st.columns(3)
    task_label = c1.selectbox("Looking for", list(TASKS), key="m_task")
    query = c2.text_input("Name contains", key="m_query", placeholder="e.g. minilm, bert, qwen")
    sort = c3.selectbox("Sort by", ["downloads", "likes", "trending", "last_modified"], key="m_sort")
    c4, c5, c6, c7 = st.columns(4)
    licences = c4.multiselect("Licences (allow-list)", LICENCES, key="m_lic")
    language = c5.text_input("Language", key="m_lang", placeholder="e.g. en, fr")
    max_params = c6.text_input("Max parameters", key="m_params", placeholder="e.g. 150M, 1B")
    max_size = c7.number_input("Max size (MB, 0 = any)", min_value=0, value=0, step=100, key="m_size")
    c8, c9, c10 = st.columns([2, 1, 1])
    exclude = c8.text_input("Exclude (ids or patterns, comma-separated)", key="m_excl", placeholder="e.g. *-onnx, gpt2")
    limit = c9.number_input("Limit", min_value=1, max_value=100, value=20, key="m_limit")
    runnable_only = c10.checkbox("Runnable only", key="m_runnable", help="hide models needing trust_remote_code")
    submitted = st.form_submit_button("Search", type="primary", icon=":material/search:")

if submitted:
    try:
        q = SearchQuery(task=TASKS[task_label], query=query or None, sort=sort, limit=int(limit),
                        licenses=licences, language=language or None, max_params=parse_count(max_params or None),
                        max_size_mb=float(max_size) or None,
                        exclude=[x.strip() for x in exclude.split(",") if x.strip()], runnable_only=runnable_only)
    except ValueError as exc:
        st.error(str(exc))
    else:
        with st.spinner("Searching…"):
            result = search(q, store=state.store())
        state.store().put(state.UI_NS, SEARCH_KEY, {"at": time.time(), "task": task_label, **result.to_dict()})
        state.refresh()

saved = state.kv_items(state.UI_NS).get(SEARCH_KEY)
if not saved:
    st.info("Search to list candidates. Without a network the installed catalog answers (bundled models and the "
            "local Hugging Face cache).")
else:
    where = "the Hugging Face Hub" if saved["source"] == "hub" else "the installed catalog"
    st.subheader(f"{len(saved['candidates'])} candidate(s) from {where}")
    if saved.get("message"):
        st.info(saved["message"])
    cands = saved["candidates"]
    if cands:
        table = pd.DataFrame([{
            "model": c["id"], "use as": c.get("model_ref"), "kind": c.get("kind"), "licence": c.get("license"),
            "params": human_count(c.get("params")), "size (MB)": c.get("size_mb") or c.get("disk_mb"),
            "downloads": c.get("downloads"), "likes": c.get("likes"), "modified": (c.get("last_modified") or "")[:10],
            "installed": bool(c.get("installed")), "runnable": bool(c.get("runnable", True)),
            "why not": "; ".join(c.get("reasons") or []),
        } for c in cands])
        if saved["source"] != "hub":  # popularity and dates are Hub facts; the local catalog has none
            table = table.drop(columns=["downloads", "likes", "modified"])
        st.dataframe(table, hide_index=True, column_config={
            "size (MB)": st.column_config.NumberColumn(format="%.0f"),
            "downloads": st.column_config.NumberColumn(format="%d")})
        if saved.get("skipped"):
            with st.expander(f"{len(saved['skipped'])} filtered out"):
                st.dataframe(pd.DataFrame(saved["skipped"]), hide_index=True)
        runnable = [c["id"] for c in cands if c.get("runnable", True)]
        if dataset_id:
            picked = st.multiselect(f"Add to the shortlist of `{dataset_id}`", runnable, key="m_pick")
            st.button("Add to shortlist", disabled=not picked, key="m_add", icon=":material/playlist_add:",
                      on_click=_add, args=(dataset_id, {c["id"]: c for c in cands}))

st.subheader("Shortlist" + (f" of `{dataset_id}`" if dataset_id else ""))
if not dataset_id:
    st.info("Prepare a dataset first: shortlists are per dataset.")
else:
    items = shortlist(dataset_id, state.store())
    if not items:
        st.caption("Empty. The Runs page always offers the bundled models; shortlisted ones appear there first.")
    else:
        st.dataframe(pd.DataFrame([{
            "model": c["id"], "use as": c.get("model_ref"), "kind": c.get("kind"), "licence": c.get("license"),
            "params": human_count(c.get("params")), "size (MB)": c.get("size_mb") or c.get("disk_mb"),
            "added": time.strftime("%Y-%m-%d %H:%M", time.localtime(c.get("added_at", 0))),
        } for c in items]), hide_index=True, column_config={"size (MB)": st.column_config.NumberColumn(format="%.0f")})
        drop = st.multiselect("Remove", [c["id"] for c in items], key="m_drop")
        st.button("Remove from shortlist", disabled=not drop, key="m_remove", on_click=_remove, args=(dataset_id,))
