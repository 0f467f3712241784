"""The one chart style of the dashboard: template, fonts, palette, the run colour map, layout helpers.

Every chart of every page is built from these, so a run has one colour everywhere and all
charts share fonts, grid and title placement.

Speed: plotly's object API (add_trace, update_layout, make_subplots) validates every step and
deep-copies the stock templates into each figure, ~0.3 s per chart. The builders assemble one
plain dict and validate it once with :func:`figure` (~20 ms), with this small template.
No LaTeX in any text: kaleido would fetch MathJax from a CDN, and there is no network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

# Vega's Tableau-10 (distinct, print-safe on white), then Plotly's Dark24 for long lists.
PALETTE: tuple[str, ...] = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#EECA3B",
    "#BAB0AC", "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86",
    "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D",
)
FONT = dict(family="Arial, Helvetica, sans-serif", size=13, color="#222")
GRID = "#e5e5e5"
MUTED = "#555"  # notes under charts
_AXIS = dict(showline=True, linecolor="#888", gridcolor=GRID, zeroline=False, ticks="outside", tickcolor="#888",
             automargin=True, title=dict(standoff=8))
TEMPLATE = go.layout.Template(layout=dict(
    font=FONT, colorway=list(PALETTE[:10]), paper_bgcolor="white", plot_bgcolor="white", xaxis=_AXIS, yaxis=_AXIS,
    hoverlabel=dict(font_size=12), hovermode="closest",
))


# ------------------------------------------------------------------------------ colours

def run_colors(run_ids: Iterable[str]) -> dict[str, str]:
    """The dashboard-wide colour of each run: its position in creation order, cycling the palette.

    Run ids start with their creation time (``YYYYmmdd-HHMMSS-…``), so sorting them gives
    creation order. Pass *all* run ids of the store (not a page's selection): a run then keeps
    its colour on every page and in every chart, and a new run never recolours older ones.
    """
    return {rid: PALETTE[i % len(PALETTE)] for i, rid in enumerate(sorted(set(run_ids)))}


def colors_for(run_ids: Sequence[str], colors: Mapping[str, str] | None) -> dict[str, str]:
    """Colours for the runs one chart shows: the caller's map, made distinct within the chart.

    With more runs in the store than palette colours, two shown runs may share a colour; the
    later one then takes a colour no shown run uses. Every chart of a page gets the same run
    set, so the swap is the same in all of them. A chart of more runs than colours (the
    100-run Pareto) keeps the map as is: duplicates are unavoidable there. Runs the map lacks
    get palette colours by position.
    """
    ids = list(dict.fromkeys(run_ids))
    by_position = {rid: PALETTE[i % len(PALETTE)] for i, rid in enumerate(ids)}
    wanted = {**by_position, **{k: v for k, v in (colors or {}).items() if k in by_position}}
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


def frame_colors(frame, colors: Mapping[str, str] | None) -> tuple[list[str], dict[str, str]]:
    """The runs of a long frame (``run_id`` column, first-seen order) and their colours in one chart."""
    run_ids = list(dict.fromkeys(frame["run_id"]))
    return run_ids, colors_for(run_ids, colors)


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


# ------------------------------------------------------------------------------ layout

def figure(traces: list[dict], layout: dict) -> go.Figure:
    """One validated figure from plain trace/layout dicts, in the dashboard's template."""
    return go.Figure({"data": traces, "layout": {"template": TEMPLATE, **layout}})


def layout(title: str, height: int = 460, width: int | None = None, legend_title: str | None = "Run",
           **extra) -> dict:
    """Title top left, margins for axis titles, the legend titled (``None``: untitled)."""
    out = {
        "height": height, "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17}},
        "margin": {"l": 70, "r": 30, "t": 80, "b": 70},
        "legend": {"title": {"text": legend_title} if legend_title else {}, "bgcolor": "rgba(255,255,255,0.8)"},
    }
    if width:
        out["width"] = width
    out.update(extra)
    return out


def grid(k: int, spacing: float, titles: Sequence[str] | None = None, shared_y: bool = False,
         title_colors: Sequence[str] | None = None) -> tuple[dict, list[dict]]:
    """Axes of a 1 × k row of subplots (what make_subplots does, without its cost) and title annotations."""
    width = (1 - spacing * (k - 1)) / k
    axes: dict = {}
    notes = []
    for i in range(1, k + 1):
        x0 = (i - 1) * (width + spacing)
        suffix = "" if i == 1 else str(i)
        axes[f"xaxis{suffix}"] = {"domain": [x0, x0 + width], "anchor": f"y{suffix}"}
        y = {"anchor": f"x{suffix}", "domain": [0, 1]}
        if shared_y and i > 1:
            y.update(matches="y", showticklabels=False)
        axes[f"yaxis{suffix}"] = y
        if titles:
            font = {"size": 14}
            if title_colors:
                font["color"] = title_colors[i - 1]
            notes.append({"text": titles[i - 1], "x": x0 + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
                          "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": font})
    return axes, notes


def axis_ref(i: int) -> dict:
    """The trace keys that put a trace on subplot ``i`` (1-based) of :func:`grid`."""
    return {"xaxis": "x" if i == 1 else f"x{i}", "yaxis": "y" if i == 1 else f"y{i}"}


def note(text: str, y: float, size: int = 11) -> dict:
    """A grey note in paper coordinates, left-aligned (under a chart when ``y`` < 0)."""
    return {"text": text, "x": 0, "y": y, "xref": "paper", "yref": "paper", "showarrow": False, "xanchor": "left",
            "yanchor": "top", "align": "left", "font": {"size": size, "color": MUTED}}


def empty_figure(title: str, message: str, height: int = 300) -> go.Figure:
    """A titled figure saying why there is nothing to draw (instead of an empty plot)."""
    msg = {"text": message, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper", "showarrow": False,
           "font": {"size": 14, "color": "#666"}}
    return figure([], layout(title, height=height, legend_title=None, annotations=[msg],
                             xaxis={"visible": False}, yaxis={"visible": False}))


# ------------------------------------------------------------------------------ values

def fmt(v: float | None, digits: int = 3) -> str:
    """A number for hover text; ``n/a`` when missing."""
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}g}"


def plain_list(values) -> list:
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
