"""Runs: configure fine-tunes and LLM baselines for shortlisted models, and watch the queue.

Queuing writes a job row to the store and makes sure a worker is alive; the worker does the
work in its own process. The queue below polls the store (``st.fragment(run_every=…)``), so
progress moves while the rest of the page stays put, and cancel/retry are plain store writes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import forms, services, state, widgets
from pipelines import configs
from pipelines.assets import ASSETS
from pipelines.shortlist import shortlist as read_shortlist

# The settings shown in view, in this order; the rest go into the "All settings" expander.
FINETUNE_MAIN = ["method", "epochs", "learning_rate", "batch_size", "max_length", "max_train_samples", "run_name"]
PROMPT_MAIN = ["mode", "k", "scoring", "template", "calibrate", "max_test_samples", "run_name"]

st.title("Runs")

dataset_id = state.dataset_picker(key="runs_dataset")


def model_options(kind: str) -> dict[str, str]:
    """model_ref → label: the dataset's shortlist first, then the bundled catalog models of that kind."""
    out: dict[str, str] = {}
    if dataset_id:
        for c in read_shortlist(dataset_id, state.store()):
            if (c.get("kind") or kind) == kind and c.get("runnable", True):
                out[c.get("model_ref") or c["id"]] = f"{c['id']} (shortlist)"
    for a in ASSETS.values():
        if a.kind == kind and a.name not in out and a.hub_id not in out:
            out[a.name] = f"{a.name} — {a.description}"
    return out


def queue(kind: str, cfgs: list[dict[str, Any]]) -> None:
    from pipelines.jobs import submit

    ids = [submit(state.store(), kind, c) for c in cfgs]
    pid = services.ensure_worker(state.store())
    state.refresh()
    st.session_state["runs_flash"] = (f"Queued {len(ids)} {kind} job(s): {', '.join(f'#{i}' for i in ids)}"
                                      + (f"; started a worker (pid {pid})." if pid else "."))


def prompt_templates() -> list[str]:
    """Template names shipped in pipelines/prompts/ (a YAML path typed in the CLI works too)."""
    folder = Path(configs.__file__).resolve().parent / "prompts"
    return sorted(p.stem for p in folder.glob("*.y*ml")) if folder.exists() else []


def configure(kind: str, cls: type, main: list[str]) -> None:
    options = model_options("encoder" if kind == "finetune" else "llm")
    models = st.multiselect("Models (one job each)", list(options), format_func=lambda m: options[m],
                            default=list(options)[:1], key=f"{kind}_models",
                            help="shortlist candidates on the Models page; bundled models are always here")
    cfg, errors = forms.config_form(cls, kind, fixed={"dataset": dataset_id, "model": models[0] if models else ""},
                                    main=main, choices={"template": prompt_templates()} if kind == "prompt" else {})
    cfgs = []
    for m in models:
        try:
            one = cls(**{**cfg, "model": m})
            if len(models) > 1 and one.run_name:
                one.run_name = f"{one.run_name} · {Path(m).name}"
            cfgs.append(one.to_dict())
        except (TypeError, ValueError) as exc:
            errors.append(str(exc))
    for e in errors:
        st.error(e)
    st.button(f"Queue {len(cfgs)} {kind} job{'s' if len(cfgs) != 1 else ''}", type="primary",
              disabled=bool(errors) or not cfgs, key=f"{kind}_queue", on_click=queue, args=(kind, cfgs))


if not dataset_id:
    st.info("Prepare a dataset first (Data page, or the demo button on Home).")
else:
    if st.session_state.get("runs_flash"):
        st.success(st.session_state.pop("runs_flash"))
    with st.container(border=True):
        st.subheader("New run")
        kinds = ["Fine-tune an encoder", "Prompt an LLM (zero/few-shot)"]
        which = st.radio("Kind", kinds, key="runs_kind", horizontal=True, label_visibility="collapsed")
        if which == "Fine-tune an encoder":
            st.caption("Full fine-tune or LoRA with HF Trainer; early stopping on validation macro-F1.")
            configure("finetune", configs.FinetuneConfig, FINETUNE_MAIN)
        elif which:
            st.caption("Label scoring (a probability per class) or generate-and-parse, on the same test split.")
            configure("prompt", configs.PromptConfig, PROMPT_MAIN)


# ------------------------------------------------------------------ queue
def _cancel(job_id: int) -> None:
    outcome = state.store().request_cancel(job_id)
    state.refresh()
    st.toast(f"Job #{job_id}: {outcome}")


def _retry(job_id: int) -> None:
    new = state.store().retry(job_id)
    services.ensure_worker(state.store())
    state.refresh()
    st.toast(f"Job #{job_id} queued again as #{new}")


def _job_actions(job: dict[str, Any]) -> None:
    """Cancel (queued/running) or Retry (failed/cancelled); callbacks run before the next render."""
    jid = job["id"]
    if job["status"] == "done":
        if job.get("run_id"):
            st.caption(f"run `{job['run_id']}`")
        return
    c1, c2 = st.columns([1, 5], vertical_alignment="center")
    if job["status"] in ("queued", "running"):
        if job.get("cancel_requested"):
            c1.caption("cancelling…")
        else:
            c1.button("Cancel", key=f"cancel_{jid}", icon=":material/cancel:", on_click=_cancel, args=(jid,))
    elif job["status"] in ("failed", "cancelled"):
        c1.button("Retry", key=f"retry_{jid}", icon=":material/replay:", on_click=_retry, args=(jid,))
    if job["status"] == "failed" and job.get("error"):
        c2.error(job["error"].splitlines()[0][:300])


@st.fragment(run_every=2.0)
def job_queue() -> None:
    st.subheader("Queue")
    jobs = state.job_rows(limit=100)
    if not jobs:
        st.info("No jobs yet.")
        return
    active = sorted([j for j in jobs if j["status"] in ("queued", "running")], key=lambda j: j["id"])
    finished = [j for j in jobs if j["status"] not in ("queued", "running")]
    worker = services.worker_state(state.store())
    if active and worker == "stopped":
        services.ensure_worker(state.store())
        worker = "starting"
    st.caption(f"worker {worker} · {len(active)} active · {len(finished)} finished · updated "
               f"{time.strftime('%H:%M:%S')}")
    for j in active:
        with st.container(border=True):
            widgets.job_line(j)
            _job_actions(j)
            if j["status"] == "running":
                hist = widgets.history(j["id"])
                with st.expander("Curves and log"):
                    if not hist.empty:
                        wide = hist.pivot_table(index="step", columns="name", values="value", aggfunc="last")
                        st.line_chart(wide, height=220)
                    st.code(widgets.job_log(j) or "(no log yet)", language=None)
    if finished:
        st.markdown("**Finished**")
        for j in finished[:30]:
            with st.container(border=True):
                widgets.job_line(j)
                _job_actions(j)
                with st.expander("Log"):
                    st.code(widgets.job_log(j) or "(no log)", language=None)


job_queue()
