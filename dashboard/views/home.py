"""Home: what is in this workspace, the leaderboard of the current dataset, and the demo button."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from dashboard import collapse_view, estimate_view, services, state, verdict_view, widgets
from pipelines import estimate, kinds
from pipelines.demo import DEFAULT_DATASET, EXPECTED_MIN, demo_jobs, queue_demo, sizes
from pipelines.eta import queue_order

# The browser test selects the tiny profile on a small dataset; users get the real demo.
PROFILE = os.environ.get("WORKBENCH_DEMO_PROFILE", "default")
DEMO_DATASET = os.environ.get("WORKBENCH_DEMO_DATASET", DEFAULT_DATASET)

st.title("Text-classification workbench")
st.caption("Fine-tune encoders and prompt LLMs on the same split; compare quality, energy and speed side by side.")

datasets = state.datasets()
all_runs = state.run_rows()
jobs = state.job_rows()
active = [j for j in jobs if j["status"] in ("queued", "running")]

c1, c2, c3, c4 = st.columns(4)
c1.metric("Datasets", len(datasets))
c2.metric("Runs", len(all_runs))
c3.metric("Running jobs", sum(j["status"] == "running" for j in jobs))
c4.metric("Queued jobs", sum(j["status"] == "queued" for j in jobs))

# ------------------------------------------------------------------ demo
def _planned(profile: str) -> list[tuple[str, dict]]:
    try:
        jobs = demo_jobs(profile, DEMO_DATASET)
    except ValueError as exc:  # a bad WORKBENCH_DEMO_PROFILE
        st.error(str(exc))
        return []
    return sorted(jobs, key=lambda kc: kinds.get(kc[0]).cost(kc[1]))  # the queue's order (jobs.submit's priority)


def _on_this_machine(planned: list[tuple[str, dict]]) -> str:
    """The planned jobs' total on this machine, from the same estimates as the queue's ETAs."""
    fake = [{"id": -i, "kind": kind, "config": cfg, "status": "queued", "priority": 0.0}
            for i, (kind, cfg) in enumerate(planned, start=1)]
    etas = estimate_view.queue_etas(fake).values()
    if not etas or any(e.done_in_s is None for e in etas):
        return ""
    total = max(e.done_in_s for e in etas)
    return f" Estimated here: about {estimate.words(total)}" + (" (rough guess)." if any(e.rough for e in etas)
                                                               else ", from runs measured on this machine.")


def _queue(profile: str) -> None:
    ids = queue_demo(state.store(), profile=profile, dataset=DEMO_DATASET)
    pid = services.ensure_worker(state.store())
    state.refresh()
    msg = f"Queued {len(ids)} job(s): {', '.join(f'#{i}' for i in ids)}." if ids else \
        "The demo is already queued or done: nothing added."
    st.toast(msg + (f" Worker started (pid {pid})." if pid else ""), icon=":material/rocket_launch:")
    st.session_state["demo_message"] = msg


with st.container(border=True):
    left, right = st.columns([3, 1], vertical_alignment="center")
    planned = _planned(PROFILE)
    expected = EXPECTED_MIN.get(PROFILE)
    left.markdown(f"**Demo comparison** on `{DEMO_DATASET}`" + (" (tiny profile)" if PROFILE == "tiny" else "")
                  + (f", about {expected} min on 2 idle cores" if expected else "") + ", cheapest job first:\n"
                  + "\n".join(f"- {cfg.get('run_name') or cfg.get('model')}: {sizes(kind, cfg)}"
                               for kind, cfg in planned))
    left.caption("Every job scores the same test split. Jobs already queued or done are skipped; a worker starts "
                 "by itself if none is running." + _on_this_machine(planned))
    if right.button("Queue the demo", type="primary", icon=":material/rocket_launch:", width="stretch",
                    disabled=not planned, key="queue_demo"):
        _queue(PROFILE)
    if PROFILE != "full":
        right.button("Full-size demo", icon=":material/open_in_full:", width="stretch", key="queue_demo_full",
                     on_click=_queue, args=("full",),
                     help=f"The same comparison with every encoder trained one epoch over the whole train split "
                          f"(about {EXPECTED_MIN['full']} min on 2 idle cores); the reference and the LLM "
                          "baselines it shares with the demo are not run again.")
    if st.session_state.get("demo_message"):
        st.success(st.session_state["demo_message"] + " Follow them below or on the Runs page.")


# ------------------------------------------------------------------ jobs
def _finished_count(rows: list[dict]) -> int:
    return sum(j["status"] in ("done", "failed", "cancelled") for j in rows)


st.session_state["home_finished"] = _finished_count(jobs)


@st.fragment(run_every=2.0)
def _active_jobs() -> None:
    rows = state.job_rows()
    if _finished_count(rows) != st.session_state.get("home_finished"):
        st.rerun()  # a job ended: redraw the whole page so the leaderboard and counts catch up
    jobs_now = [j for j in rows if j["status"] in ("queued", "running")]
    recent = widgets.recently_finished(rows)
    st.subheader("Jobs")
    if not jobs_now and not recent:
        st.info("No jobs yet: queue the demo above, or configure runs on the Runs page.")
        return
    if jobs_now:
        if services.worker_state(state.store()) == "stopped":
            services.ensure_worker(state.store())
        etas = estimate_view.queue_etas(jobs_now)
        for j in queue_order(jobs_now):  # the order the worker takes them, each with its ETA
            widgets.job_line(j, etas.get(j["id"]))
    else:
        st.caption("Nothing running.")
    if recent:
        ended = _finished_count(rows)
        with st.expander(f"Recently finished ({len(recent)} of {ended})" if ended > len(recent)
                         else f"Recently finished ({ended})", expanded=not jobs_now):
            for j in recent:
                widgets.job_line(j)
            if ended > len(recent):
                st.caption("Older jobs are on the Runs page.")


_active_jobs()

# ------------------------------------------------------------ leaderboard
st.subheader("Leaderboard")
if not datasets:
    st.info("No dataset prepared yet. The demo prepares the embedded Rotten Tomatoes snippets; "
            "or upload your own on the Data page.")
else:
    dataset_id = state.dataset_picker()
    rows = state.run_rows(dataset_id)
    if not rows:
        st.info(f"No runs on `{dataset_id}` yet.")
    else:
        splits = {r["split_hash"] for r in rows}
        if len(splits) > 1:
            st.warning(f"Runs of `{dataset_id}` use {len(splits)} different splits; scores are comparable only "
                       "within one split (Compare groups them).")
        st.dataframe(widgets.leaderboard(rows), hide_index=True, column_config=widgets.leaderboard_columns(),
                     width="stretch")
        collapse_view.show(collapse_view.for_rows(rows, state.run_label))
        verdict_view.show_dataset(dataset_id, rows)  # which run to use, in words, each claim linked to its chart

# --------------------------------------------------------------- datasets
st.subheader("Datasets")
if datasets:
    counts = pd.Series([r["dataset_id"] for r in all_runs]).value_counts() if all_runs else pd.Series(dtype=int)
    st.dataframe(pd.DataFrame([{
        "id": d["id"], "name": d["name"], "task": d["task"].replace("_", "-"), "labels": len(d["labels"]),
        "train": d["n_train"], "validation": d["n_validation"], "test": d["n_test"],
        "runs": int(counts.get(d["id"], 0)), "split hash": d["split_hash"],
    } for d in datasets]), hide_index=True)
else:
    st.caption("None yet.")
