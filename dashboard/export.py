"""Exports of a comparison: every chart as PNG/SVG/PDF (kaleido) and HTML, tables, and one zip bundle.

Static images go through kaleido 1.x, which drives a headless Chromium (Debian's
``/usr/bin/chromium``, found on PATH or via ``BROWSER_PATH``). Starting a browser costs ~3 s,
so one is kept alive for the process (``kaleido.start_sync_server``) and later images take
~0.3 s. MathJax is switched off: kaleido would fetch it from a CDN and there is no network
(charts carry no LaTeX anyway). Image bytes are cached by figure content, so a page rerun or a
second click never renders the same chart twice.

Which charts a comparison has is decided next to the charts, in
:func:`dashboard.charts.comparison_figures`; this module turns them into files.
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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from pipelines import tables
from pipelines.compare import Comparison
from pipelines.runfolder import RunFolder

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

#: each run's files in the bundle: all plain files but the predictions (large, and in no table).
RUN_FILES = tuple(f for f in RunFolder.FILES if f != RunFolder.PREDICTIONS)


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
            folder = RunFolder(comp.path_of(rid))
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

