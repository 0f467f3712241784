"""The sidebar status line shown on every page: worker, predictor service, queue."""

from __future__ import annotations

import streamlit as st

from dashboard import services, state


@st.cache_data(ttl=5.0, show_spinner=False)
def _service_summary(store_key: str) -> str:
    info = services.service_info(state.store())
    if not info:
        return "predictor: stopped (starts on demand)"
    n = len(info.get("loaded") or [])
    return f"predictor: {n} model{'s' if n != 1 else ''} warm · {info.get('used_mb', 0):.0f} MB"


@st.fragment(run_every=5.0)
def _status() -> None:
    jobs = state.job_rows()
    running = sum(j["status"] == "running" for j in jobs)
    queued = sum(j["status"] == "queued" for j in jobs)
    worker = services.worker_state(state.store())
    st.caption(f"worker: {worker} · jobs: {running} running, {queued} queued")
    st.caption(_service_summary(str(state.store().path)))


def render() -> None:
    with st.sidebar:
        _status()
