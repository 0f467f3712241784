"""Publication-ready comparison charts: pure functions, data frame in, plotly figure out.

No Streamlit here, so every chart is unit-tested on its own and exported unchanged (PNG, SVG,
PDF, HTML). Conventions every builder follows:

- One colour per run everywhere: :func:`color_map` assigns colours by position in a list of
  run ids. Pass it the ids of *all* runs in the store in creation order (``Store.runs()``)
  and a run keeps its colour on every page and chart, whichever subset is shown.
- Titles, axis titles with units, hover text with the exact numbers; no LaTeX (kaleido would
  fetch MathJax from a CDN, and there is no network).
- Frames come from :mod:`pipelines.compare` (``Comparison.runs`` / ``per_class()`` /
  ``emissions()`` / ``history()``); every frame has ``run_id`` and ``label`` (display name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pipelines.stats import pareto_front

# Vega's Tableau-10 (distinct, print-safe on white), then Plotly's Dark24 for long lists.
PALETTE: tuple[str, ...] = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#EECA3B",
    "#BAB0AC", "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86",
    "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D",
)
FONT = dict(family="Arial, Helvetica, sans-serif", size=13, color="#222")
GRID = "#e5e5e5"
_AXIS = dict(showline=True, linecolor="#888", gridcolor=GRID, zeroline=False, ticks="outside", tickcolor="#888",
             automargin=True, title=dict(standoff=8))
# Speed: plotly's object API (add_trace, update_layout, make_subplots) validates every step and
# deep-copies the stock templates into each figure, ~0.3 s per chart here. The builders below
# assemble one plain dict and validate it once with ``go.Figure(spec)`` (~20 ms), with a small
# template of our own.
TEMPLATE = go.layout.Template(layout=dict(
    font=FONT, colorway=list(PALETTE[:10]), paper_bgcolor="white", plot_bgcolor="white", xaxis=_AXIS, yaxis=_AXIS,
    hoverlabel=dict(font_size=12), hovermode="closest",
))

QUALITY_AXES = {"macro_f1": "Macro-F1 on the test split (0–1)", "accuracy": "Accuracy on the test split (0–1)"}
COST_AXES = {
    "energy_kwh": "Energy, train + eval (kWh)",
    "latency_ms": "Latency (ms per text, batch 1)",
    "size_mb": "Model size on disk (MB)",
}
COST_TITLES = {"energy_kwh": "energy", "latency_ms": "latency", "size_mb": "model size"}

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


def color_map(run_ids: Sequence[str]) -> dict[str, str]:
    """Run id → colour, by position (cycling after the palette ends)."""
    return {rid: PALETTE[i % len(PALETTE)] for i, rid in enumerate(dict.fromkeys(run_ids))}


def run_colors(run_ids: Sequence[str]) -> dict[str, str]:
    """The dashboard-wide colour of each run: positions in creation order.

    Run ids start with their creation time (``YYYYmmdd-HHMMSS-…``), so sorting them gives
    creation order. Pass *all* run ids of the store (not a page's selection): a run then keeps
    its colour on every page and in every chart, and a new run never recolours older ones.
    """
    return color_map(sorted(set(run_ids)))


def _colors_for(run_ids: Sequence[str], colors: Mapping[str, str] | None) -> dict[str, str]:
    """Colours for the runs one chart shows: the caller's map, made distinct within the chart.

    With more runs in the store than palette colours, two shown runs may share a colour; the
    later one then takes a colour no shown run uses. Every chart of a page gets the same run
    set, so the swap is the same in all of them. A chart of more runs than colours (the
    100-run Pareto) keeps the map as is: duplicates are unavoidable there.
    """
    ids = list(dict.fromkeys(run_ids))
    wanted = {**color_map(ids), **{k: v for k, v in (colors or {}).items() if k in ids}}
    if len(ids) > len(PALETTE):
        return wanted
    out: dict[str, str] = {}
    used: set[str] = set()
    spare = [c for c in PALETTE if c not in set(wanted.values())]
    for rid in ids:
        c = wanted[rid]
        if c in used:
            c = spare.pop(0) if spare else PALETTE[len(used) % len(PALETTE)]
        out[rid] = c
        used.add(c)
    return out


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


Spec = dict


def _figure(traces: list[dict], layout: dict) -> go.Figure:
    """One validated figure from plain trace/layout dicts."""
    return go.Figure({"data": traces, "layout": {"template": TEMPLATE, **layout}})


def _layout(title: str, height: int = 460, width: int | None = None, legend_title: str | None = "Run",
            **extra) -> dict:
    out = {
        "height": height, "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17}},
        "margin": {"l": 70, "r": 30, "t": 80, "b": 70},
        "legend": {"title": {"text": legend_title} if legend_title else {}, "bgcolor": "rgba(255,255,255,0.8)"},
    }
    if width:
        out["width"] = width
    out.update(extra)
    return out


def _grid(k: int, spacing: float, titles: Sequence[str] | None = None, shared_y: bool = False,
          title_colors: Sequence[str] | None = None) -> tuple[dict, list[dict]]:
    """Axes of a 1 × k row of subplots (what make_subplots does, without its cost) and title annotations."""
    width = (1 - spacing * (k - 1)) / k
    layout: dict = {}
    notes = []
    for i in range(1, k + 1):
        x0 = (i - 1) * (width + spacing)
        suffix = "" if i == 1 else str(i)
        layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + width], "anchor": f"y{suffix}"}
        y = {"anchor": f"x{suffix}", "domain": [0, 1]}
        if shared_y and i > 1:
            y.update(matches="y", showticklabels=False)
        layout[f"yaxis{suffix}"] = y
        if titles:
            font = {"size": 14}
            if title_colors:
                font["color"] = title_colors[i - 1]
            notes.append({"text": titles[i - 1], "x": x0 + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
                          "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": font})
    return layout, notes


def _axis_ref(i: int) -> dict:
    return {"xaxis": "x" if i == 1 else f"x{i}", "yaxis": "y" if i == 1 else f"y{i}"}


def _note(text: str, y: float, size: int = 11) -> dict:
    return {"text": text, "x": 0, "y": y, "xref": "paper", "yref": "paper", "showarrow": False, "xanchor": "left",
            "yanchor": "top", "align": "left", "font": {"size": size, "color": "#555"}}


def empty_figure(title: str, message: str, height: int = 300) -> go.Figure:
    """A titled figure saying why there is nothing to draw (instead of an empty plot)."""
    note = {"text": message, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper", "showarrow": False,
            "font": {"size": 14, "color": "#666"}}
    return _figure([], _layout(title, height=height, legend_title=None, annotations=[note],
                               xaxis={"visible": False}, yaxis={"visible": False}))


def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}g}"


def _list(values) -> list:
    """JSON-friendly list (NaN → None, numpy scalars → Python)."""
    out = []
    for v in values:
        if isinstance(v, (float, np.floating)) and np.isnan(v):
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


# ------------------------------------------------------------------------------- per class

def per_class_f1(per_class: pd.DataFrame, colors: Mapping[str, str] | None = None,
                 title: str = "Per-class F1 on the test split") -> go.Figure:
    """Grouped bars: one group per class, one bar per run (F1, with precision/recall on hover)."""
    if per_class.empty:
        return empty_figure(title, "No per-class metrics in these runs")
    run_ids = list(dict.fromkeys(per_class["run_id"]))
    cmap = _colors_for(run_ids, colors)
    classes = list(dict.fromkeys(per_class["class"]))
    support = per_class.groupby("class", sort=False)["support"].max()
    ticks = [f"{c} (n={int(support[c])})" if pd.notna(support.get(c)) else str(c) for c in classes]
    traces = []
    labelled = len(run_ids) * len(classes) <= 24  # value labels only while they fit
    for rid in run_ids:
        d = per_class[per_class["run_id"] == rid].set_index("class").reindex(classes)
        traces.append({
            "type": "bar", "x": ticks, "y": _list(d["f1"]), "name": str(d["label"].dropna().iloc[0]),
            "marker": {"color": cmap[rid]},
            "texttemplate": "%{y:.2f}" if labelled else None, "textposition": "outside",
            "textfont": {"size": 11}, "cliponaxis": False,
            "customdata": [[p, r] for p, r in zip(_list(d["precision"]), _list(d["recall"]))],
            "hovertemplate": "%{x}<br>F1 %{y:.3f}<br>precision %{customdata[0]:.3f}<br>"
                             "recall %{customdata[1]:.3f}<extra>%{fullData.name}</extra>",
        })
    return _figure(traces, _layout(
        title, barmode="group", bargap=0.25, bargroupgap=0.05,
        xaxis={"title": {"text": "Class (test examples per class)"}},
        yaxis={"title": {"text": "F1 score (0–1)"}, "range": [0, 1.05]}))


# ------------------------------------------------------------------------ confusion matrices

def _row_normalise(cm: np.ndarray) -> np.ndarray:
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)


def confusion_matrices(matrices: Mapping[str, np.ndarray], labels: Sequence[str], names: Mapping[str, str],
                       colors: Mapping[str, str] | None = None,
                       title: str = "Confusion matrices (share of each gold class; counts on hover)") -> go.Figure:
    """Side-by-side row-normalised confusion matrices, one per run (rows gold, columns predicted)."""
    items = [(rid, np.asarray(cm)) for rid, cm in matrices.items() if cm is not None]
    if not items:
        return empty_figure(title, "No confusion matrices (multi-label runs have none)")
    cmap = _colors_for([rid for rid, _ in items], colors)
    k = len(items)
    labels = [str(x) for x in labels]
    axes, notes = _grid(k, 0.04 if k > 1 else 0.0, [names.get(rid, rid) for rid, _ in items], shared_y=True,
                        title_colors=[cmap[rid] for rid, _ in items])
    traces = []
    for i, (rid, cm) in enumerate(items, start=1):
        name = names.get(rid, rid)
        traces.append({
            "type": "heatmap", **_axis_ref(i), "z": _row_normalise(cm).tolist(), "x": labels, "y": labels,
            "customdata": cm.tolist(), "zmin": 0, "zmax": 1, "colorscale": "Blues", "showscale": i == k,
            "colorbar": {"title": {"text": "Share of<br>gold class"}, "tickformat": ".0%"},
            "texttemplate": "%{z:.0%}", "textfont": {"size": 12}, "name": name,
            "hovertemplate": "gold %{y} → predicted %{x}<br>%{customdata} texts (%{z:.1%} of gold %{y})"
                             f"<extra>{name}</extra>",
        })
        axes["xaxis" if i == 1 else f"xaxis{i}"].update(title={"text": "Predicted class"}, showgrid=False)
        axes["yaxis" if i == 1 else f"yaxis{i}"].update(autorange="reversed", showgrid=False)
    axes["yaxis"]["title"] = {"text": "Gold class"}
    width_per = 320 if len(labels) <= 3 else 380
    return _figure(traces, _layout(title, height=440, width=max(560, 120 + width_per * k), legend_title=None,
                                   annotations=notes, **axes))


def confusion_difference(cm_a: np.ndarray, cm_b: np.ndarray, labels: Sequence[str], name_a: str,
                         name_b: str) -> go.Figure:
    """B − A of row-normalised matrices in percentage points, coloured by who is better.

    The numbers are the raw change of each cell's share; the colour is that change counted
    as good or bad (more on the diagonal is good, more off it is bad), so blue always means
    "B is better here" and red "B is worse", on and off the diagonal alike.
    """
    title = f"Confusion difference: {name_b} − {name_a}"
    if cm_a is None or cm_b is None:
        return empty_figure(title, "Both runs need a confusion matrix (single-label runs)")
    cm_a, cm_b = np.asarray(cm_a), np.asarray(cm_b)
    diff = (_row_normalise(cm_b) - _row_normalise(cm_a)) * 100
    sign = np.where(np.eye(len(diff), dtype=bool), 1.0, -1.0)
    gain = diff * sign
    lim = max(1.0, float(np.abs(gain).max()))
    labels = [str(x) for x in labels]
    text = [[f"{v:+.1f}" for v in row] for row in diff]
    trace = {
        "type": "heatmap", "z": gain.tolist(), "x": labels, "y": labels, "zmin": -lim, "zmax": lim, "zmid": 0,
        "colorscale": "RdBu", "text": text, "texttemplate": "%{text}", "textfont": {"size": 12},
        "customdata": np.stack([cm_a, cm_b], axis=-1).tolist(),
        "colorbar": {"title": {"text": "B is…"}, "tickvals": [-lim, 0, lim], "ticktext": ["worse", "same", "better"]},
        "hovertemplate": (f"gold %{{y}} → predicted %{{x}}<br>{name_a}: %{{customdata[0]}} texts<br>"
                          f"{name_b}: %{{customdata[1]}} texts<br>change %{{text}} points<extra></extra>"),
    }
    note = _note(f"A = {name_a}, B = {name_b}. Numbers: B − A, points of each gold class."
                 "<br>Blue: B better there (more right on the diagonal, fewer mistakes off it); red: B worse.",
                 -0.2, size=11)
    return _figure([trace], _layout(
        title, height=480, width=max(620, 200 + 110 * len(labels)), legend_title=None, annotations=[note],
        margin={"l": 70, "r": 30, "t": 80, "b": 120},
        xaxis={"title": {"text": "Predicted class"}, "showgrid": False},
        yaxis={"title": {"text": "Gold class"}, "autorange": "reversed", "showgrid": False}))


# ---------------------------------------------------------------------------- training curves

def _is_loss(name: str) -> bool:
    n = name.lower()
    return "loss" in n and not n.startswith(("eval", "val"))


def _is_val_f1(name: str) -> bool:
    n = name.lower()
    return "f1" in n and n.startswith(("eval", "val"))


def training_curves(history: pd.DataFrame, colors: Mapping[str, str] | None = None,
                    title: str = "Training curves") -> go.Figure:
    """Training loss and validation macro-F1 against the optimizer step, one line per run."""
    if history.empty:
        return empty_figure(title, "No training history: these runs were not trained (e.g. LLM baselines)")
    names = history["name"].astype(str)
    loss = history[names.map(_is_loss)]
    val = history[names.map(_is_val_f1)]
    run_ids = list(dict.fromkeys(history["run_id"]))
    cmap = _colors_for(run_ids, colors)
    axes, notes = _grid(2, 0.1, ["Training loss", "Validation macro-F1"])
    traces = []
    for rid in run_ids:
        label = str(history.loc[history["run_id"] == rid, "label"].iloc[0])
        shown = False
        for col, part, fmt in ((1, loss, ".4f"), (2, val, ".3f")):
            d = part[part["run_id"] == rid].sort_values("step")
            if d.empty:
                continue
            traces.append({
                "type": "scatter", **_axis_ref(col), "x": _list(d["step"]), "y": _list(d["value"]),
                "mode": "lines+markers" if len(d) < 30 else "lines", "name": label, "legendgroup": rid,
                "showlegend": not shown, "line": {"color": cmap[rid], "width": 2}, "marker": {"size": 6},
                "customdata": _list(d["epoch"].fillna(0)),
                "hovertemplate": f"step %{{x}} (epoch %{{customdata:.2f}})<br>%{{y:{fmt}}}<extra>{label}</extra>",
            })
            shown = True
    axes["xaxis"]["title"] = axes["xaxis2"]["title"] = {"text": "Optimizer step"}
    axes["yaxis"]["title"] = {"text": "Loss (cross-entropy)"}
    axes["yaxis2"]["title"] = {"text": "Macro-F1 (0–1)"}
    if val.empty:
        notes.append({"text": "no validation scores logged", "x": 0.8, "y": 0.5, "xref": "paper", "yref": "paper",
                      "showarrow": False, "font": {"color": "#666"}})
    return _figure(traces, _layout(title, height=420, annotations=notes, **axes))


# ------------------------------------------------------------------------------------ Pareto

def _marker_sizes(values: pd.Series, lo: float = 10, hi: float = 30) -> np.ndarray:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    out = np.full(len(v), (lo + hi) / 2)
    ok = np.isfinite(v) & (v > 0)
    if ok.sum() >= 2 and np.ptp(np.sqrt(v[ok])) > 0:
        s = np.sqrt(v[ok])
        out[ok] = lo + (s - s.min()) / np.ptp(s) * (hi - lo)
    return out


def pareto_chart(runs: pd.DataFrame, x: str = "energy_kwh", y: str = "macro_f1",
                 colors: Mapping[str, str] | None = None, title: str | None = None,
                 max_legend: int = 20) -> go.Figure:
    """Quality vs a cost (energy, latency or size), Pareto frontier drawn, CIs as error bars.

    Marker size shows model size (or latency when x is size); hover has every number. Runs
    without a value for the cost (e.g. energy not measured) are listed under the chart.
    """
    if x not in COST_AXES:
        raise ValueError(f"x must be one of {', '.join(COST_AXES)}, got {x!r}")
    if y not in QUALITY_AXES:
        raise ValueError(f"y must be one of {', '.join(QUALITY_AXES)}, got {y!r}")
    quality_name = "Macro-F1" if y == "macro_f1" else "Accuracy"
    title = title or f"{quality_name} vs {COST_TITLES[x]}: Pareto frontier"
    if runs.empty:
        return empty_figure(title, "No runs to plot")
    d = runs.set_index("run_id", drop=False)
    d["_x"] = pd.to_numeric(d[x], errors="coerce")
    d["_y"] = pd.to_numeric(d[y], errors="coerce")
    missing = d[d["_x"].isna() | d["_y"].isna()]
    d = d.dropna(subset=["_x", "_y"])
    if d.empty:
        return empty_figure(title, f"No run has both {quality_name.lower()} and {COST_TITLES[x]} recorded")
    cmap = _colors_for(list(runs["run_id"]), colors)
    size_col = "latency_ms" if x == "size_mb" else "size_mb"
    sizes = _marker_sizes(d[size_col])
    d["_front"] = pareto_front(d["_y"], d["_x"])
    has_ci = f"{y}_lo" in d.columns and f"{y}_hi" in d.columns
    hovers, errs = [], []
    for _, row in d.iterrows():
        ci = has_ci and pd.notna(row[f"{y}_lo"]) and pd.notna(row[f"{y}_hi"])
        errs.append((float(row[f"{y}_hi"] - row["_y"]), float(row["_y"] - row[f"{y}_lo"])) if ci else (0.0, 0.0))
        hovers.append(f"<b>{row['label']}</b><br>{quality_name} {row['_y']:.3f}"
                      + (f" (95% CI {row[f'{y}_lo']:.3f}–{row[f'{y}_hi']:.3f})" if ci else "")
                      + f"<br>energy {_fmt(row.get('energy_kwh'))} kWh<br>latency {_fmt(row.get('latency_ms'))} "
                      f"ms/text<br>size {_fmt(row.get('size_mb'))} MB, {_fmt(row.get('params_m'))} M params"
                      + ("<br><i>on the Pareto frontier</i>" if row["_front"] else "") + "<extra></extra>")
    front_flags = [bool(f) for f in d["_front"]]
    if len(d) <= max_legend:  # one trace per run: a legend entry each
        traces = []
        for i, rid in enumerate(d.index):
            on_front, label = front_flags[i], str(d.at[rid, "label"])
            trace = {
                "type": "scatter", "x": [float(d.at[rid, "_x"])], "y": [float(d.at[rid, "_y"])],
                "mode": "markers+text" if on_front else "markers", "textposition": "top center",
                "textfont": {"size": 11, "color": "#333"}, "name": label, "legendgroup": rid,
                "marker": {"color": cmap[rid], "size": float(sizes[i]), "opacity": 0.9,
                           "line": {"color": "#222" if on_front else "#fff", "width": 1.5}},
                "hovertemplate": hovers[i],
            }
            if on_front:
                trace["text"] = [label]
            if has_ci and errs[i] != (0.0, 0.0):
                trace["error_y"] = {"type": "data", "symmetric": False, "array": [errs[i][0]],
                                    "arrayminus": [errs[i][1]], "color": cmap[rid], "thickness": 1.2, "width": 3}
            traces.append(trace)
    else:  # many runs: one trace (100 traces cost seconds to build and draw); colours stay per run
        traces = [{
            "type": "scatter", "x": _list(d["_x"]), "y": _list(d["_y"]), "mode": "markers+text",
            "text": [str(lab) if f else "" for lab, f in zip(d["label"], front_flags)], "name": "Runs",
            "textposition": "top center", "textfont": {"size": 11, "color": "#333"}, "hovertemplate": hovers,
            "marker": {"color": [cmap[r] for r in d.index], "size": [float(v) for v in sizes], "opacity": 0.85,
                       "line": {"color": ["#222" if f else "#fff" for f in front_flags], "width": 1.5}},
            "error_y": {"type": "data", "symmetric": False, "array": [e[0] for e in errs],
                        "arrayminus": [e[1] for e in errs], "color": "#bbb", "thickness": 1, "width": 0},
        }]
    f = d[d["_front"]].sort_values("_x")
    traces.append({"type": "scatter", "x": _list(f["_x"]), "y": _list(f["_y"]), "mode": "lines",
                   "line": {"color": "#222", "dash": "dash", "width": 1.5, "shape": "hv"},
                   "name": "Pareto frontier", "hoverinfo": "skip", "legendgroup": "_frontier"})
    positive = d["_x"] > 0
    span = d["_x"].max() / d["_x"][positive].min() if positive.any() else 1
    log_x = bool(span > 30 and positive.all())
    size_words = "latency" if size_col == "latency_ms" else "model size"
    note = f"Marker size: {size_words}. Frontier: runs no other run beats on both axes. Bars: 95% CI."
    if len(missing):
        names = ", ".join(map(str, missing["label"].head(6))) + (" …" if len(missing) > 6 else "")
        note += f"<br>Not shown (no {COST_TITLES[x]} recorded): {names}"
    xaxis = {"title": {"text": COST_AXES[x] + (" (log scale)" if log_x else "")}, "exponentformat": "none"}
    if log_x:
        xaxis["type"] = "log"
    elif d["_x"].nunique() == 1:  # one cost value: plotly would centre it on a -1..1 axis
        xaxis["range"] = [0, float(d["_x"].iloc[0]) * 1.6 or 1.0]
    return _figure(traces, _layout(
        title, height=500, annotations=[_note(note, -0.16)], xaxis=xaxis,
        yaxis={"title": {"text": QUALITY_AXES[y]}},
        margin={"l": 70, "r": 30, "t": 80, "b": 110 + 20 * bool(len(missing))}))


# ------------------------------------------------------------------------------ emissions

PHASE_PATTERNS = {"train": "", "eval": "/", "predict": "x"}


def energy_breakdown(emissions: pd.DataFrame, colors: Mapping[str, str] | None = None,
                     title: str = "Energy and CO2eq per run and phase") -> go.Figure:
    """Stacked bars per run (energy kWh | CO2eq g), phases hatched; the power-measuring method on hover and below."""
    if emissions.empty:
        return empty_figure(title, "No emissions recorded for these runs")
    run_ids = list(dict.fromkeys(emissions["run_id"]))
    cmap = _colors_for(run_ids, colors)
    names = emissions.drop_duplicates("run_id").set_index("run_id")["label"].reindex(run_ids).astype(str)
    axes, notes = _grid(2, 0.12, ["Energy (kWh)", "CO2 equivalent (g)"])
    traces = []
    phases = list(dict.fromkeys(emissions["phase"].fillna("other")))
    for ph in phases:
        d = emissions[emissions["phase"].fillna("other") == ph].drop_duplicates("run_id").set_index("run_id")
        d = d.reindex(run_ids)
        custom = [[_fmt(dur, 3), method_words(c), method_words(r), method_words(g), country or "?",
                   "" if m is True else " — NOT measured"]
                  for dur, c, r, g, country, m in zip(d["duration_s"], d["cpu_method"], d["ram_method"],
                                                      d["gpu_method"], d["country"], d["measured"])]
        pattern = {"shape": PHASE_PATTERNS.get(ph, "."), "fgcolor": "#fff", "solidity": 0.35}
        for col, field, unit in ((1, "energy_kwh", "kWh"), (2, "co2_g", "g CO2eq")):
            traces.append({
                "type": "bar", **_axis_ref(col), "x": list(names), "y": _list(d[field]), "name": f"{ph} phase",
                "legendgroup": ph, "showlegend": False,
                "marker": {"color": [cmap[r] for r in run_ids], "pattern": pattern,
                           "line": {"color": "#333", "width": 0.5}},
                "customdata": custom,
                "hovertemplate": f"%{{x}} · {ph}%{{customdata[5]}}<br>%{{y:.4g}} {unit}<br>duration "
                                 "%{customdata[0]} s<br>CPU: %{customdata[1]}<br>RAM: %{customdata[2]}"
                                 "<br>GPU: %{customdata[3]}<br>grid: %{customdata[4]}<extra></extra>",
            })
        # legend entry in neutral grey (the bars carry run colours); clicking it toggles the phase
        traces.append({"type": "bar", "x": [None], "y": [None], "name": f"{ph} phase", "legendgroup": ph,
                       "marker": {"color": "#b0b0b0", "line": {"color": "#333", "width": 0.5},
                                  "pattern": {**pattern, "fgcolor": "#333", "solidity": 0.3}},
                       "hoverinfo": "skip"})
    tick = {"tickangle": -25 if len(run_ids) > 3 else 0}
    axes["xaxis"].update(tick)
    axes["xaxis2"].update(tick)
    axes["yaxis"]["title"] = {"text": "Energy (kWh)"}
    axes["yaxis2"]["title"] = {"text": "CO2 equivalent (g)"}
    notes.append(_note(methods_note(emissions), -0.16 if len(run_ids) <= 3 else -0.3))
    return _figure(traces, _layout(title, height=520, legend_title="Phase (hatched = eval)", barmode="stack",
                                   annotations=notes, margin={"l": 70, "r": 30, "t": 80, "b": 160}, **axes))


def methods_note(emissions: pd.DataFrame) -> str:
    """One line per distinct measuring set-up: how CPU, RAM and GPU power were obtained, and the grid."""
    if emissions.empty:
        return ""
    combos = emissions.drop_duplicates(["cpu_method", "ram_method", "gpu_method", "country"])
    lines = []
    for _, r in combos.iterrows():
        lines.append(f"Power measured by CodeCarbon — CPU: {method_words(r['cpu_method'])}; "
                     f"RAM: {method_words(r['ram_method'])}; GPU: {method_words(r['gpu_method'])}; "
                     f"CO2 for the {r['country'] or '?'} grid")
    unmeasured = emissions[~emissions["measured"].astype(bool)]
    if len(unmeasured):
        lines.append("Not measured (no bar): " + ", ".join(f"{a} {p}" for a, p in
                                                          zip(unmeasured["label"], unmeasured["phase"])))
    return "<br>".join(lines[:4])


# ------------------------------------------------------------------------------ helpers

def figure_colors(fig: go.Figure) -> dict[str, str]:
    """Trace name → colour used, for checks that a run has one colour across charts."""
    out: dict[str, str] = {}
    for tr in fig.data:
        color = None
        marker = getattr(tr, "marker", None)
        line = getattr(tr, "line", None)
        if marker is not None and isinstance(getattr(marker, "color", None), str):
            color = marker.color
        elif line is not None and isinstance(getattr(line, "color", None), str):
            color = line.color
        if tr.name and color:
            out[tr.name] = color
    return out
