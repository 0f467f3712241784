"""Energy and CO2eq per run and phase, with how CodeCarbon obtained the power of CPU, RAM and GPU."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import theme

#: how CodeCarbon's power methods (pipelines.emissions.describe_methods) read in a chart.
METHOD_WORDS = {
    "rapl": "RAPL counters (measured)",
    "constant_estimate": "constant estimate",
    "forced": "user-set constant",
    "nvml": "NVML (measured)",
    "amdsmi": "AMD SMI (measured)",
    "powermetrics": "powermetrics (measured)",
    "none": "none detected",
}
SOURCE_WORDS = {
    "assumed_4W_per_thread": "assumed 4 W/thread",
    "tdp_table": "TDP from CodeCarbon's table",
    "forced_tdp": "user-set TDP",
    "generic_tdp": "generic TDP",
}


def method_words(method: str | None) -> str:
    """``cpu_load:assumed_4W_per_thread`` → ``CPU load × assumed 4 W/thread (estimate)``."""
    if not method or (isinstance(method, float) and np.isnan(method)):
        return "unknown"
    method = str(method)
    if method in METHOD_WORDS:
        return METHOD_WORDS[method]
    for sep in (":", "×"):
        if sep in method:
            mode, source = method.split(sep, 1)
            base = {"cpu_load": "CPU load", "constant": "constant"}.get(mode, mode.replace("_", " "))
            return f"{base} × {SOURCE_WORDS.get(source, source.replace('_', ' '))} (estimate)"
    return method.replace("_", " ")


PHASE_PATTERNS = {"train": "", "eval": "/", "predict": "x"}


def tick_label(name: str, width: int = 16, lines: int = 2) -> str:
    """A run name as an axis tick: wrapped at spaces into at most ``lines`` lines of ``width``
    characters (the rest cut with "…"), so the names under two side-by-side bar charts do not run
    into each other; the whole name is in the hover."""
    words, out, line = str(name).split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            out.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return "<br>".join(x if len(x) <= width + 2 else x[: width - 1] + "…" for x in out)


def _ticks(names: list[str]) -> list[str]:
    """Unique tick labels (a cut name that collides gets its position added)."""
    ticks = [tick_label(n) for n in names]
    seen: dict[str, int] = {}
    for i, t in enumerate(ticks):
        seen[t] = seen.get(t, 0) + 1
        if seen[t] > 1:
            ticks[i] = f"{t} ({seen[t]})"
    return ticks


def energy_breakdown(emissions: pd.DataFrame, colors: Mapping[str, str] | None = None,
                     title: str = "Energy and CO2eq per run and phase") -> go.Figure:
    """Stacked bars per run (energy kWh | CO2eq g), phases hatched; the power-measuring method on hover and below."""
    if emissions.empty:
        return theme.empty_figure(title, "No emissions recorded for these runs")
    run_ids, cmap = theme.frame_colors(emissions, colors)
    names = emissions.drop_duplicates("run_id").set_index("run_id")["label"].reindex(run_ids).astype(str)
    ticks = _ticks(list(names))
    axes, notes = theme.grid(2, 0.12, ["Energy (kWh)", "CO2 equivalent (g)"])
    traces = []
    phases = list(dict.fromkeys(emissions["phase"].fillna("other")))
    for ph in phases:
        d = emissions[emissions["phase"].fillna("other") == ph].drop_duplicates("run_id").set_index("run_id")
        d = d.reindex(run_ids)
        custom = [[theme.fmt(dur, 3), method_words(c), method_words(r), method_words(g), country or "?",
                   "" if m is True else " — NOT measured", full]
                  for dur, c, r, g, country, m, full in zip(d["duration_s"], d["cpu_method"], d["ram_method"],
                                                            d["gpu_method"], d["country"], d["measured"], names)]
        pattern = {"shape": PHASE_PATTERNS.get(ph, "."), "fgcolor": "#fff", "solidity": 0.35}
        for col, field, unit in ((1, "energy_kwh", "kWh"), (2, "co2_g", "g CO2eq")):
            traces.append({
                "type": "bar", **theme.axis_ref(col), "x": ticks, "y": theme.plain_list(d[field]), "name": f"{ph} phase",
                "legendgroup": ph, "showlegend": False,
                "marker": {"color": [cmap[r] for r in run_ids], "pattern": pattern,
                           "line": {"color": "#333", "width": 0.5}},
                "customdata": custom,
                "hovertemplate": f"%{{customdata[6]}} · {ph}%{{customdata[5]}}<br>%{{y:.4g}} {unit}<br>duration "
                                 "%{customdata[0]} s<br>CPU: %{customdata[1]}<br>RAM: %{customdata[2]}"
                                 "<br>GPU: %{customdata[3]}<br>grid: %{customdata[4]}<extra></extra>",
            })
        # legend entry in neutral grey (the bars carry run colours); clicking it toggles the phase
        traces.append({"type": "bar", "x": [None], "y": [None], "name": f"{ph} phase", "legendgroup": ph,
                       "marker": {"color": "#b0b0b0", "line": {"color": "#333", "width": 0.5},
                                  "pattern": {**pattern, "fgcolor": "#333", "solidity": 0.3}},
                       "hoverinfo": "skip"})
    tick = {"tickangle": -30 if len(run_ids) > 3 else 0, "automargin": True}
    axes["xaxis"].update(tick)
    axes["xaxis2"].update(tick)
    axes["yaxis"]["title"] = {"text": "Energy (kWh)"}
    axes["yaxis2"]["title"] = {"text": "CO2 equivalent (g)"}
    notes.append(theme.note(methods_note(emissions), -0.16 if len(run_ids) <= 3 else -0.3))
    return theme.figure(traces, theme.layout(title, height=520, legend_title="Phase (hatched = eval)", barmode="stack",
                                   annotations=notes, margin={"l": 70, "r": 30, "t": 80, "b": 160}, **axes))


def methods_note(emissions: pd.DataFrame) -> str:
    """One line per distinct measuring set-up: how CPU, RAM and GPU power were obtained, and the grid."""
    if emissions.empty:
        return ""
    keys = ["cpu_method", "ram_method", "gpu_method", "country"]
    if "attribution" in emissions:
        keys.append("attribution")
    combos = emissions.drop_duplicates(keys)
    lines = []
    for _, r in combos.iterrows():
        charged = f" · {r['attribution']}" if "attribution" in r and r["attribution"] else ""
        lines.append(f"Power measured by CodeCarbon — CPU: {method_words(r['cpu_method'])}; "
                     f"RAM: {method_words(r['ram_method'])}; GPU: {method_words(r['gpu_method'])}; "
                     f"CO2 for the {r['country'] or '?'} grid{charged}")
    unmeasured = emissions[~emissions["measured"].astype(bool)]
    if len(unmeasured):
        lines.append("Not measured (no bar): " + ", ".join(f"{a} {p}" for a, p in
                                                          zip(unmeasured["label"], unmeasured["phase"])))
    return "<br>".join(lines[:4])
