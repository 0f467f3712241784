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


def _executor() -> None:
    """Where queued jobs run: this machine, one at a time, or a Ray cluster (README)."""
    store = state.store()
    current = services.executor_setting(store)
    with st.expander("Executor"):
        executor = st.selectbox("Run jobs on", services.EXECUTORS, index=services.EXECUTORS.index(current["executor"]),
                                format_func={"local": "this machine (one at a time)", "ray": "a Ray cluster"}.get,
                                key="executor_choice")
        address = current["address"]
        if executor == "ray":
            address = st.text_input("Ray address", value=address or "", placeholder="HOST:6379 (empty: local/auto)",
                                    key="executor_address") or None
        if (executor, address) != (current["executor"], current["address"]):
            services.set_executor(store, executor, address)
            st.caption("saved; the next worker started uses it")


def render() -> None:
    with st.sidebar:
        _status()
        _executor()
