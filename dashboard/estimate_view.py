"""Cost before commitment (Runs page): each planned job's expected duration on this machine,
and a one-click cap that keeps it under a target (:mod:`pipelines.estimate` does the sums);
and, once queued, each job's ETA (:func:`queue_etas`, for the Runs page and Home).

The measured rates are read from the finished runs' folders once per change of the run list
(cached), so the form stays quick while a user edits it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import state
from pipelines import estimate, eta


@st.cache_data(ttl=60, show_spinner=False)
def _samples(store_path: str, kind: str, n_runs: int) -> list[estimate.Sample]:
    return estimate.samples(state.store(), kind)


def queue_etas(jobs: list[dict[str, Any]]) -> dict[int, eta.JobEta]:
    """ETA of each queued or running job (:mod:`pipelines.eta`), the measured rates read once per run-list change."""
    store = state.store()
    n_runs = len(state.run_rows())
    return eta.queue_etas(store, jobs, found=lambda kind: _samples(str(store.path), kind, n_runs))


def _apply(key: str, value: Any) -> None:
    st.session_state[key] = str(value)


def show(kind: str, cfgs: list[dict[str, Any]]) -> None:
    """A target input and one line per planned job: its estimate, its basis, the cap suggestion."""
    if not cfgs:
        return
    store = state.store()
    found = _samples(str(store.path), kind, len(state.run_rows()))
    with st.container(border=True):
        left, right = st.columns([1, 3], vertical_alignment="center")
        target_min = left.number_input("Target (minutes)", min_value=1, max_value=24 * 60, value=10, step=5,
                                       key=f"{kind}_target_min",
                                       help="the longest you want one job to take; a cap that keeps it under "
                                            "is suggested for each job that would take longer")
        total = 0.0
        lines = []
        suggestions = []
        for cfg in cfgs:
            est = estimate.estimate(store, kind, cfg, target_s=target_min * 60.0, found=found)
            total += est.seconds
            name = cfg.get("run_name") or (Path(str(cfg["model"])).name if cfg.get("model") else "derived model")
            over = est.seconds > target_min * 60
            mark = ":orange[:material/schedule:]" if over else ":green[:material/schedule:]"
            guess = "" if est.basis == "measured" else f" ({est.basis})"
            lines.append(f"{mark} **{name}**: about **{estimate.words(est.seconds)}**{guess} — {est.detail}."
                         + (f" Suggested: {est.cap_detail}." if est.cap_detail else ""))
            suggestions += list(est.cap.items())
        right.markdown("**Estimated duration on this machine**  \n" + "  \n".join(lines))
        if len(cfgs) > 1:
            right.caption(f"All {len(cfgs)} jobs: about {estimate.words(total)}, one after the other.")
        if suggestions:
            name, value = min(suggestions, key=lambda kv: kv[1])  # one cap for every model of this form
            right.button(f"Use {name} = {value:,}", key=f"{kind}_apply_cap", icon=":material/content_cut:",
                         on_click=_apply, args=(f"{kind}_{name}", value))
