"""Small pieces several pages share: job progress lines, run tables, formatting."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from pipelines import runs

# Markdown for the status word (material icons, not emoji: they render the same in every browser font)
STATUS_MD = {"queued": ":gray[:material/schedule: queued]", "running": ":blue[:material/play_circle: running]",
             "done": ":green[:material/check_circle: done]", "failed": ":red[:material/error: failed]",
             "cancelled": ":orange[:material/cancel: cancelled]"}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def job_title(job: dict[str, Any]) -> str:
    cfg = job["config"]
    name = cfg.get("run_name") or " ".join(str(x) for x in (cfg.get("model"), cfg.get("method") or cfg.get("mode"))
                                           if x)
    return f"#{job['id']} {job['kind']} · {name} · {cfg.get('dataset', '?')}"


def eta_s(job: dict[str, Any], now: float | None = None) -> float | None:
    """Remaining seconds, extrapolated linearly from progress so far (None until it means something)."""
    if job["status"] != "running" or not job.get("started_at"):
        return None
    p = float(job.get("progress") or 0.0)
    if p < 0.02:
        return None
    elapsed = (now or time.time()) - job["started_at"]
    return elapsed * (1.0 - p) / p


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


def job_line(job: dict[str, Any]) -> None:
    """Progress bar + status, ETA and the newest loss/metric of one job."""
    p = float(job.get("progress") or 0.0)
    status = job["status"]
    bits = [STATUS_MD.get(status, status)]
    if status == "running":
        eta = eta_s(job)
        bits.append(f"ETA {fmt_duration(eta)}" if eta is not None else "ETA –")
    metrics = latest_metrics(job["id"]) if status in ("running", "done") else {}
    bits += [f"{k} {v:.4g}" for k, v in list(metrics.items())[:3]]
    if job.get("message") and job["message"] not in (status, "starting"):
        bits.append(str(job["message"])[:80])
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
    f = folder / "log.txt"
    if not f.exists():
        return None
    with f.open("rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 64_000))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-tail_lines:])


def leaderboard(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run, best macro-F1 first: the numbers people compare."""
    out = []
    for r in rows:
        s = r["summary"]
        ci = s.get("macro_f1_ci")
        out.append({
            "run": state.run_label(r), "kind": r["kind"], "model": Path(str(r["model"])).name,
            "method": r.get("method") or "", "accuracy": s.get("accuracy"), "macro-F1": s.get("macro_f1"),
            "macro-F1 95% CI": f"{ci[0]:.3f}–{ci[1]:.3f}" if isinstance(ci, (list, tuple)) and len(ci) == 2 else "",
            "energy (kWh)": s.get("energy_kwh"), "latency (ms)": s.get("latency_ms"),
            "params (M)": (s["params"] / 1e6) if s.get("params") else None,
        })
    df = pd.DataFrame(out)
    if not df.empty:
        df = df.sort_values("macro-F1", ascending=False, na_position="last").reset_index(drop=True)
    return df


LEADERBOARD_COLUMNS = {
    "accuracy": st.column_config.NumberColumn(format="%.3f"),
    "macro-F1": st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0),
    "energy (kWh)": st.column_config.NumberColumn(format="%.2e", help="measured by CodeCarbon (train + eval)"),
    "latency (ms)": st.column_config.NumberColumn(format="%.1f", help="one text, batch 1, CPU"),
    "params (M)": st.column_config.NumberColumn(format="%.1f"),
}
