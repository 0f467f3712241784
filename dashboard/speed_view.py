"""Speed figures measured under load (Compare page): which were kept out of the ★, and a button
that re-measures them as speed-only jobs (:mod:`pipelines.speed_job`), one at a time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import services, state
from pipelines import tables


def _queue(run_ids: list[str]) -> None:
    from pipelines.speed_job import queue

    ids = queue(state.store(), run_ids)
    services.ensure_worker(state.store())
    state.refresh()
    st.toast(f"Queued {len(ids)} speed job(s): {', '.join(f'#{i}' for i in ids) or 'already queued'}")


def show(runs: pd.DataFrame, key: str = "speed") -> None:
    """The footnote on speed stars, and "Re-measure speed" for runs measured under load (or all)."""
    note = tables.speed_note(runs)
    if note:
        st.caption(note)
    if runs.empty or "speed_band" not in runs.columns:
        return
    loaded = [rid for rid, b in zip(runs.index, runs["speed_band"]) if b != "quiet"]
    targets = loaded or list(runs.index)
    words = "measured under load or with no load recorded" if loaded else "shown"
    st.button(f"Re-measure speed ({len(targets)} run{'s' if len(targets) != 1 else ''} {words})",
              key=f"{key}_remeasure", icon=":material/speed:", on_click=_queue, args=(targets,),
              help="Queues one speed-only job per run: loads its model, measures latency and throughput with the "
                   "run's own plan and records the machine's load. The run folder stays as it is; Compare then "
                   "uses the newest figure measured without contention.")
