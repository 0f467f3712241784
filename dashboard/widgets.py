"""Small pieces several pages share: job progress lines, run tables, formatting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from pipelines import columns, runs
from pipelines.jobs import lease_holder
from pipelines.runfolder import RunFolder

# Markdown for the status word (material icons, not emoji: they render the same in every browser font)
STATUS_MD = {"queued": ":gray[:material/schedule: queued]", "running": ":blue[:material/play_circle: running]",
             "done": ":green[:material/check_circle: done]", "failed": ":red[:material/error: failed]",
             "cancelled": ":orange[:material/cancel: cancelled]"}


def job_title(job: dict[str, Any]) -> str:
    cfg = job["config"]
    name = cfg.get("run_name") or " ".join(str(x) for x in (cfg.get("model"), cfg.get("method") or cfg.get("mode"))
                                           if x)
    return f"#{job['id']} {job['kind']} · {name} · {cfg.get('dataset', '?')}"


def recently_finished(rows: list[dict[str, Any]], n: int = 8) -> list[dict[str, Any]]:
    """The ``n`` jobs that finished last, newest first.

    By finish time over every job read, not the newest ids of a 20-row slice cut to 5: the
    queue runs cheapest first, so the demo's job #1 (its data preparation) finished first and
    fell off the list while the page said the demo was done.
    """
    ended = [j for j in rows if j["status"] in ("done", "failed", "cancelled")]
    return sorted(ended, key=lambda j: (j.get("finished_at") or 0, j["id"]), reverse=True)[:n]


@st.cache_data(ttl=state.TTL_S, show_spinner=False)
def _history(store_key: str, job_id: int) -> list[dict[str, Any]]:
    return state.store().history(job_id)


def history(job_id: int) -> pd.DataFrame:
    return pd.DataFrame(_history(str(state.store().path), job_id), columns=["step", "name", "value", "epoch", "at"])


def latest_metrics(job_id: int) -> dict[str, float]:
    """The newest value of each logged series (loss, eval macro-F1, …)."""
    h = history(job_id)
    if h.empty:
        return {}
    last = h.sort_values("at").groupby("name").tail(1)
    return {r["name"]: float(r["value"]) for _, r in last.iterrows()}


def job_line(job: dict[str, Any], eta: Any = None) -> None:
    """Progress bar + status, ETA (a :class:`pipelines.eta.JobEta`) and the newest loss/metric of one job."""
    p = float(job.get("progress") or 0.0)
    status = job["status"]
    bits = [STATUS_MD.get(status, status)]
    if eta is not None and status in ("queued", "running"):
        bits.append(eta.text)
    metrics = latest_metrics(job["id"]) if status in ("running", "done") else {}
    bits += [f"{k} {v:.4g}" for k, v in list(metrics.items())[:3]]
    if job.get("message") and job["message"] not in (status, "starting"):
        bits.append(str(job["message"])[:80])
    if (job.get("attempt") or 1) > 1:
        bits.append(f"attempt {job['attempt']}")
    if holder := lease_holder(job):
        bits.append(f"held by {holder}")
    st.progress(min(max(p, 0.0), 1.0), text=f"**{job_title(job)}** — {p:.0%} · " + " · ".join(bits))


def work_dir(job: dict[str, Any]) -> Path:
    """Where a job writes while it runs (computed, never created: the dashboard only reads)."""
    return runs.attempt_dir(job["id"], job.get("attempt") or 1)


def job_log(job: dict[str, Any], tail_lines: int = 60) -> str | None:
    """The last lines of a job's log.txt (its run folder once done, its work folder before)."""
    folder = None
    if job.get("run_id"):
        run = state.store().run(job["run_id"])
        folder = Path(run["path"]) if run else None
    folder = folder if folder and folder.exists() else work_dir(job)
    f = RunFolder(folder).log
    if not f.exists():
        return None
    with f.open("rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 64_000))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-tail_lines:])


def _ci_text(ci) -> str:
    return f"{ci[0]:.3f}–{ci[1]:.3f}" if isinstance(ci, (list, tuple)) and len(ci) == 2 and ci[0] is not None else ""


def leaderboard(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run, best first (by ``columns.PRIMARY``, macro-F1): the metric columns of
    :mod:`pipelines.columns`, from the store summary."""
    out = []
    for r in rows:
        s = r["summary"]
        row = {"run": state.run_label(r), "kind": r["kind"], "model": Path(str(r["model"])).name,
               "method": r.get("method") or ""}
        for col in columns.table_columns():
            row[col.with_unit()] = col.value({}, s)
            if col.ci:
                row[f"{col.name} 95% CI"] = _ci_text(s.get(col.ci_key))
        out.append(row)
    df = pd.DataFrame(out)
    if not df.empty:
        df = df.sort_values(columns.REGISTRY[columns.PRIMARY].with_unit(), ascending=False, na_position="last")
        df = df.reset_index(drop=True)
    return df


def leaderboard_columns() -> dict[str, Any]:
    """Streamlit column formats of :func:`leaderboard`: quality as 0–1 bars, the rest with their axis title as help."""
    out: dict[str, Any] = {}
    for col in columns.table_columns():
        if col.role == "quality":
            out[col.with_unit()] = st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0)
        else:
            out[col.with_unit()] = st.column_config.NumberColumn(format=f"%.{col.digits}g", help=col.axis)
    return out
