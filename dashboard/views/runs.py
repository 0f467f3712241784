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

from dashboard import estimate_view, forms, services, state, widgets
from dashboard.prompt_editor import prompt_editor
from pipelines import configs, prompt_defaults
from pipelines import kinds as pipeline_kinds
from pipelines.assets import ASSETS
from pipelines.eta import queue_order
from pipelines.shortlist import shortlist as read_shortlist
from pipelines.sweeps import seed_matters

# The reference kinds the form offers, with what each is for.
BASELINES = {
    "tfidf": "Word and character n-grams + logistic regression: trains in seconds, the line every run is read "
             "against.",
    "probe": "A frozen encoder's sentence embeddings + logistic regression: cheap, and cached per dataset split.",
    "setfit": "SetFit for the few-labels regime: a handful of labelled texts per class.",
}
# The settings shown in view, in this order; the rest go into the "All settings" expander.
FINETUNE_MAIN = ["method", "epochs", "learning_rate", "batch_size", "max_length", "max_train_samples", "run_name"]
PROMPT_MAIN = ["mode", "k", "scoring", "template", "calibrate", "max_test_samples", "run_name"]

st.title("Runs")

dataset_id = state.dataset_picker(key="runs_dataset")


DERIVED = ""  # the prompt form's "no model named": the job derives it from the dataset


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
    _with_reference(cfgs)
    pid = services.ensure_worker(state.store())
    state.refresh()
    st.session_state["runs_flash"] = (f"Queued {len(ids)} {kind} job(s): {', '.join(f'#{i}' for i in ids)}"
                                      + (f"; started a worker (pid {pid})." if pid else "."))


def _with_reference(cfgs: list[dict[str, Any]]) -> None:
    """Every dataset a run is queued on gets its TF-IDF reference (seconds), the line Compare reads runs against."""
    from pipelines.reference import ensure_reference

    for dataset in {c.get("dataset") for c in cfgs if c.get("dataset")}:
        ensure_reference(state.store(), dataset)


def prompt_templates() -> list[str]:
    """Template names shipped in pipelines/prompts/ (a YAML path typed in the CLI works too)."""
    folder = Path(configs.__file__).resolve().parent / "prompts"
    return sorted(p.stem for p in folder.glob("*.y*ml")) if folder.exists() else []


def configure(kind: str, cls: type, main: list[str]) -> None:
    if kind == "tfidf":
        options = {"tfidf": "TF-IDF (word + character n-grams) + logistic regression"}
    elif kind == "prompt":  # the measured default by classes and mode (pipelines/prompt_defaults.py), named or not
        options = {DERIVED: f"derived from the data — {prompt_defaults.SUMMARY} (the run records which and why)",
                   **model_options("llm")}
    else:
        options = model_options("llm" if kind == "prompt" else "encoder")
    models = st.multiselect("Models (one job each)", list(options), format_func=lambda m: options[m],
                            default=list(options)[:1], key=f"{kind}_models",
                            help="shortlist candidates on the Models page; bundled models are always here")
    cfg, errors = forms.config_form(cls, kind, fixed={"dataset": dataset_id, "model": models[0] if models else ""},
                                    main=main, choices={"template": prompt_templates()} if kind == "prompt" else {})
    if kind == "prompt":  # the exact prompt, readable and editable before queueing
        prompt_editor(cfg, errors)
    cfgs = []
    for m in models:
        try:
            one = cls(**{**cfg, "model": m or None})
            if len(models) > 1 and one.run_name:
                one.run_name = f"{one.run_name} · {Path(m).name if m else 'derived model'}"
            cfgs.append(one.to_dict())
        except (TypeError, ValueError) as exc:
            errors.append(str(exc))
    grid, keep, grid_error = sweep_form(kind, cls) if kind == "finetune" else ({}, "all", None)
    errors += [grid_error] if grid_error else []
    seeded = kind in ("finetune", "probe") or (kind == "prompt" and seed_matters(kind, cfg))  # few-shot: the draw
    seeds = seeds_input(kind) if seeded else 1
    if seeds > 1 and grid:
        errors.append("Seeds and a sweep grid together: repeat one configuration over seeds, or sweep a grid.")
    for e in errors:
        st.error(e)
    estimate_view.show(kind, cfgs)  # expected duration from what this machine measured, and a cap
    if kind == "finetune":
        derived_settings(cfgs)
    if seeds > 1 and cfgs:
        n = len(cfgs) * seeds
        st.button(f"Queue {len(cfgs)} seed group{'s' if len(cfgs) != 1 else ''} ({n} {kind} jobs)", type="primary",
                  disabled=bool(errors), key=f"{kind}_queue", on_click=queue_seed_groups, args=(kind, cfgs, seeds))
        return
    if grid and cfgs:
        from pipelines.sweeps import points

        n = len(cfgs) * len(points({}, grid))
        st.button(f"Queue a sweep of {n} {kind} job{'s' if n != 1 else ''}", type="primary",
                  disabled=bool(errors), key=f"{kind}_queue", on_click=queue_sweeps, args=(kind, cfgs, grid, keep))
        return
    st.button(f"Queue {len(cfgs)} {kind} job{'s' if len(cfgs) != 1 else ''}", type="primary",
              disabled=bool(errors) or not cfgs, key=f"{kind}_queue", on_click=queue, args=(kind, cfgs))


def derived_settings(cfgs: list[dict[str, Any]]) -> None:
    """What the fine-tune will use for the settings left empty, and why (pipelines/train_defaults.py),
    before anything is queued; the job applies the same rule to its own tokenizer and writes the
    record into its config.json."""
    from pipelines.estimate import dataset_info
    from pipelines.train_defaults import from_dataset_info

    shown = set()
    for cfg in cfgs:
        rule = from_dataset_info(dataset_info(str(cfg.get("dataset") or "")), cfg)
        if rule is None or not rule["derived"] or rule["why"] in shown:
            continue
        shown.add(rule["why"])
        out = rule["outputs"]
        derived = ", ".join(f"{k} = {out[k]:g}" for k in rule["derived"])
        grouping = (" Length-grouped batches unless text length predicts the class (checked on the train texts "
                    "when the job starts)." if cfg.get("group_by_length") is None else "")
        st.caption(f":material/tune: **Derived from the data** ({derived}; on CPU): {rule['why']}.{grouping}")


def sweep_form(kind: str, cls: type) -> tuple[dict[str, Any], str, str | None]:
    """An optional grid over config fields ("learning_rate=1e-4,3e-4; method=full,lora") and its retention."""
    from pipelines.sweeps import parse_grid

    with st.expander("Sweep (optional): one job per combination of values"):
        text = st.text_input("Grid", key=f"{kind}_grid", placeholder="learning_rate=1e-4,3e-4,1e-3; method=full,lora",
                             help="FIELD=V1,V2 separated by ';'. The best point is chosen on validation, "
                                  "never on the test split; Compare can fold the sweep to it.")
        keep = st.radio("Weights to keep", ["all", "best"], horizontal=True, key=f"{kind}_keep",
                        format_func={"all": "every point", "best": "best point only (saves disk)"}.get)
    specs = [part.strip() for part in (text or "").split(";") if part.strip()]
    try:
        return (parse_grid(specs, cls) if specs else {}), keep, None
    except ValueError as exc:
        return {}, keep, str(exc)


def seeds_input(kind: str) -> int:
    """How many seeds to repeat each run over (Compare and the verdict then show the spread)."""
    return int(st.number_input("Seeds", min_value=1, max_value=10, value=1, step=1, key=f"{kind}_seeds",
                               help="Repeat each run with consecutive seeds from its seed setting. One seed is one "
                                    "draw: seed noise is often as large as the gap between two models, so Compare "
                                    "and the verdict show the spread of a seed group (3 seeds is a good start)."))


def queue_seed_groups(kind: str, cfgs: list[dict[str, Any]], seeds: int) -> None:
    from pipelines.sweeps import queue_seeds

    ids = []
    for cfg in cfgs:
        ids += queue_seeds(state.store(), kind, cfg, seeds)[1]
    pid = services.ensure_worker(state.store())
    state.refresh()
    st.session_state["runs_flash"] = (f"Queued {len(ids)} {kind} job(s) over {seeds} seeds: "
                                      f"{', '.join(f'#{i}' for i in ids)}" + (f"; started a worker (pid {pid})."
                                                                             if pid else "."))


def queue_sweeps(kind: str, cfgs: list[dict[str, Any]], grid: dict[str, list[Any]], keep: str) -> None:
    from pipelines.sweeps import queue_sweep

    ids = []
    for cfg in cfgs:
        ids += queue_sweep(state.store(), kind, cfg, grid, keep=keep)[1]
    _with_reference(cfgs)
    pid = services.ensure_worker(state.store())
    state.refresh()
    st.session_state["runs_flash"] = (f"Queued a sweep of {len(ids)} {kind} job(s): {', '.join(f'#{i}' for i in ids)}"
                                      + (f"; started a worker (pid {pid})." if pid else "."))


if not dataset_id:
    st.info("Prepare a dataset first (Data page, or the demo button on Home).")
else:
    if st.session_state.get("runs_flash"):
        st.success(st.session_state.pop("runs_flash"))
    with st.container(border=True):
        st.subheader("New run")
        kinds = ["Fine-tune an encoder", "Prompt an LLM (zero/few-shot)", "Reference baseline"]
        which = st.radio("Kind", kinds, key="runs_kind", horizontal=True, label_visibility="collapsed")
        if which == "Fine-tune an encoder":
            st.caption("Full fine-tune or LoRA with HF Trainer; early stopping on validation macro-F1.")
            configure("finetune", configs.FinetuneConfig, FINETUNE_MAIN)
        elif which == "Prompt an LLM (zero/few-shot)":
            st.caption("Label scoring (a probability per class) or generate-and-parse, on the same test split.")
            configure("prompt", configs.PromptConfig, PROMPT_MAIN)
        elif which:
            baselines = {k.name: k for k in pipeline_kinds.predicting() if k.name in BASELINES}
            name = st.selectbox("Baseline", list(baselines), key="runs_baseline",
                                format_func=lambda n: baselines[n].display)
            st.caption(BASELINES[name])
            configure(name, baselines[name].config, ["run_name"])


# ------------------------------------------------------------------ queue
def _cancel(job_id: int) -> None:
    outcome = state.store().request_cancel(job_id)
    state.refresh()
    st.toast(f"Job #{job_id}: {outcome}")


def _retry(job_id: int) -> None:
    state.store().retry(job_id)
    services.ensure_worker(state.store())
    state.refresh()
    st.toast(f"Job #{job_id} queued again (attempt {state.store().job(job_id)['attempt']})")


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
    active = queue_order(jobs)  # the order the worker takes them, so the ETAs grow down the list
    etas = estimate_view.queue_etas(active)
    finished = [j for j in jobs if j["status"] not in ("queued", "running")]
    worker = services.worker_state(state.store())
    if active and worker == "stopped":
        services.ensure_worker(state.store())
        worker = "starting"
    st.caption(f"worker {worker} · {len(active)} active · {len(finished)} finished · updated "
               f"{time.strftime('%H:%M:%S')}")
    for j in active:
        with st.container(border=True):
            widgets.job_line(j, etas.get(j["id"]))
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
