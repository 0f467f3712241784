"""Exports of a comparison: every chart as PNG/SVG/PDF (kaleido) and HTML, tables, and one zip bundle.

Static images go through kaleido 1.x, which drives a headless Chromium (Debian's
``/usr/bin/chromium``, found on PATH or via ``BROWSER_PATH``). Starting a browser costs ~3 s,
so one is kept alive for the process (``kaleido.start_sync_server``) and later images take
~0.3 s. MathJax is switched off: kaleido would fetch it from a CDN and there is no network
(charts carry no LaTeX anyway). Image bytes are cached by figure content, so a page rerun or a
second click never renders the same chart twice.

:func:`comparison_figures` is the one place that decides which charts a comparison has; the
Compare page shows them and the Export page and the bundle export them, so all three agree.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import logging
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard import charts
from pipelines import tables
from pipelines.compare import Comparison

log = logging.getLogger(__name__)

IMAGE_FORMATS = ("png", "svg", "pdf")
FORMATS = (*IMAGE_FORMATS, "html")
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html",
        "csv": "text/csv", "md": "text/markdown", "tex": "application/x-tex", "json": "application/json",
        "zip": "application/zip"}
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1000, 500
PNG_SCALE = 2  # print resolution: 2000 px wide for a 1000 px layout

_server_lock = threading.Lock()
_render_lock = threading.Lock()
_server_started = False
_cache: OrderedDict[str, bytes] = OrderedDict()
_CACHE_MAX = 96


# ------------------------------------------------------------------------------- figures

CONFUSION_MAX = 4  # side-by-side matrices stay readable up to about four


def comparison_figures(comp: Comparison, history: pd.DataFrame | None = None,
                       colors: Mapping[str, str] | None = None, detail_runs: Sequence[str] | None = None,
                       pair: tuple[str, str] | None = None, quality: str = "macro_f1",
                       only: Collection[str] | None = None) -> dict[str, go.Figure]:
    """The charts of a comparison, by file-name stem, in display order.

    ``detail_runs`` limits the per-run charts (per-class, confusion, curves, energy) to a few
    runs, since 100 bars per class read as noise; the Pareto charts always show every run.
    Confusion matrices show the first :data:`CONFUSION_MAX` of them. ``pair`` (A, B) adds the
    confusion-difference chart. ``only``: build just these names (a page showing one Pareto
    view does not pay for the other two).
    """
    def wanted(name: str) -> bool:
        return only is None or name in only

    colors = colors or charts.color_map(comp.run_ids)
    detail = comp.subset(list(detail_runs)) if detail_runs is not None else comp
    figs: dict[str, go.Figure] = {}
    for x in charts.COST_AXES:
        name = f"pareto_{x.split('_')[0]}"
        if wanted(name):
            figs[name] = charts.pareto_chart(comp.runs, x=x, y=quality, colors=colors)
    if wanted("per_class_f1"):
        figs["per_class_f1"] = charts.per_class_f1(detail.per_class(), colors)
    if not comp.multi_label:
        if wanted("confusion_matrices"):
            shown = detail.run_ids[:CONFUSION_MAX]
            figs["confusion_matrices"] = charts.confusion_matrices(
                {rid: detail.confusion(rid) for rid in shown}, comp.labels,
                {rid: detail.label_of(rid) for rid in shown}, colors)
        if wanted("confusion_difference") and pair and all(r in comp.runs.index for r in pair) and pair[0] != pair[1]:
            a, b = pair
            figs["confusion_difference"] = charts.confusion_difference(
                comp.confusion(a), comp.confusion(b), comp.labels, comp.label_of(a), comp.label_of(b))
    if history is not None and wanted("training_curves"):
        hist = history[history["run_id"].isin(detail.run_ids)]
        figs["training_curves"] = charts.training_curves(hist, colors)
    if wanted("energy_co2"):
        figs["energy_co2"] = charts.energy_breakdown(detail.emissions(), colors)
    return figs


# ------------------------------------------------------------------------------ rendering

def _ensure_server() -> None:
    """Start one kaleido browser for this process (idempotent, thread-safe)."""
    global _server_started
    with _server_lock:
        if _server_started:
            return
        import kaleido

        t0 = time.perf_counter()
        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        _server_started = True
        atexit.register(stop_server)
        log.info("kaleido browser started in %.1f s", time.perf_counter() - t0)


def stop_server() -> None:
    global _server_started
    with _server_lock:
        if not _server_started:
            return
        import kaleido

        kaleido.stop_sync_server(silence_warnings=True)
        _server_started = False


def _size(fig: go.Figure, width: int | None, height: int | None) -> tuple[int, int]:
    return (int(width or fig.layout.width or DEFAULT_WIDTH), int(height or fig.layout.height or DEFAULT_HEIGHT))


def figure_bytes(fig: go.Figure, fmt: str, width: int | None = None, height: int | None = None) -> bytes:
    """One chart as PNG, SVG, PDF or standalone HTML (plotly.js embedded: opens offline)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown chart format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    spec = fig.to_json()
    w, h = _size(fig, width, height)
    key = hashlib.sha1(f"{fmt}|{w}|{h}|{spec}".encode()).hexdigest()
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    if fmt == "html":
        data = fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False},
                           default_width="100%", default_height=f"{h}px").encode()
    else:
        data = _render_image(json.loads(spec), fmt, w, h)
    _cache[key] = data
    while len(_cache) > _CACHE_MAX:
        _cache.popitem(last=False)
    return data


def _render_image(fig_dict: dict[str, Any], fmt: str, width: int, height: int) -> bytes:
    import kaleido

    _ensure_server()
    opts = {"format": fmt, "width": width, "height": height, "scale": PNG_SCALE if fmt == "png" else 1}
    with _render_lock:  # the sync server serves one request at a time; download threads queue here
        return kaleido.calc_fig_sync(fig_dict, opts=opts)


def html_for_bundle(fig: go.Figure) -> bytes:
    """HTML that loads ``plotly.min.js`` from its own folder (one copy of plotly.js per bundle)."""
    return fig.to_html(include_plotlyjs="directory", full_html=True, config={"displaylogo": False}).encode()


# -------------------------------------------------------------------------------- tables

def table_files(comp: Comparison, runs: pd.DataFrame | None = None) -> dict[str, bytes]:
    """Metrics table (CSV, Markdown, LaTeX, JSON) and per-class F1 (CSV, Markdown) by file name."""
    runs = comp.runs if runs is None else runs
    caption = f"Runs on {comp.dataset_id} (split {comp.split_hash[:8]}), test-set metrics"
    per_class = tables.per_class_table(comp.subset(list(runs.index)).per_class())
    out = {
        "metrics.csv": tables.to_csv(runs).encode(),
        "metrics.md": tables.to_markdown(runs, caption=caption).encode(),
        "metrics.tex": tables.to_latex(runs, caption=caption).encode(),
        "metrics.json": tables.to_json(runs).encode(),
    }
    if not per_class.empty:
        out["per_class_f1.csv"] = per_class.to_csv(float_format="%.4f").encode()
        md = per_class.map(lambda v: f"{v:.3f}" if pd.notna(v) else "–")
        lines = ["| class | " + " | ".join(map(str, md.columns)) + " |",
                 "|---|" + "---:|" * len(md.columns)]
        lines += [f"| {idx} | " + " | ".join(row) + " |" for idx, row in zip(md.index, md.values.tolist())]
        out["per_class_f1.md"] = ("\n".join(lines) + "\n").encode()
    return out


# -------------------------------------------------------------------------------- bundle

RUN_FILES = ("config.json", "metrics.json", "emissions.csv", "log.txt")


def bundle_zip(comp: Comparison, figures: Mapping[str, go.Figure], significance: dict[str, Any] | None = None,
               formats: Iterable[str] = FORMATS) -> bytes:
    """The whole comparison in one zip: charts (every format), tables, each run's config/metrics/emissions."""
    formats = tuple(formats)
    buf = io.BytesIO()
    names: list[str] = []
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        def add(name: str, data: bytes) -> None:
            zf.writestr(name, data)
            names.append(name)

        for stem, fig in figures.items():
            for fmt in formats:
                data = html_for_bundle(fig) if fmt == "html" else figure_bytes(fig, fmt)
                add(f"charts/{stem}.{fmt}", data)
        if "html" in formats and figures:
            from plotly.offline import get_plotlyjs

            add("charts/plotly.min.js", get_plotlyjs().encode())
        for name, data in table_files(comp).items():
            add(f"tables/{name}", data)
        if significance:
            add("significance.json", json.dumps(significance, indent=2, default=str).encode())
        for rid in comp.run_ids:
            folder = comp.path_of(rid)
            for fname in RUN_FILES:
                path = folder / fname
                if path.is_file():
                    add(f"runs/{rid}/{fname}", path.read_bytes())
        add("README.md", _readme(comp, names, significance).encode())
    return buf.getvalue()


def _readme(comp: Comparison, names: Sequence[str], significance: dict[str, Any] | None) -> str:
    lines = [
        f"# Comparison on {comp.dataset_id}", "",
        f"- split hash: `{comp.split_hash}` (every run here was scored on these same test examples)",
        f"- task: {comp.task}; labels: {', '.join(comp.labels)}",
        f"- runs: {len(comp.run_ids)}; exported {time.strftime('%Y-%m-%d %H:%M:%S')}", "",
        "## Runs", "",
    ]
    lines += [f"- `{rid}`: {comp.label_of(rid)}" for rid in comp.run_ids]
    if significance:
        lines += ["", "## Significance", "",
                  f"{significance['label_b']} vs {significance['label_a']}:",
                  f"- McNemar: {significance['mcnemar']['words']}",
                  f"- paired bootstrap (accuracy): {significance['bootstrap_accuracy']['words']}",
                  f"- paired bootstrap (macro-F1): {significance['bootstrap_macro_f1']['words']}"]
    lines += ["", "## Files", ""] + [f"- {n}" for n in names]
    lines += ["", "Tables: `tables/metrics.*` (best value per column in bold / `best_in`); charts in PNG (2× "
              "scale), SVG, PDF and interactive HTML (open offline; needs `charts/plotly.min.js` beside it)."]
    return "\n".join(lines) + "\n"


def file_stem(comp: Comparison) -> str:
    """A filename-safe prefix for downloads: dataset + short split hash."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in comp.dataset_id) or "comparison"
    return f"{safe}-{comp.split_hash[:8]}"

