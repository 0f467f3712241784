"""The metrics table of a comparison: CIs, the best value per column marked, and its exports.

Pure pandas (no Streamlit): the Compare page shows :func:`display_table`, the Export page and
``python -m pipelines compare --format …`` write :func:`to_csv`, :func:`to_markdown`,
:func:`to_latex`, :func:`to_text` or :func:`to_json`. Input is ``Comparison.runs`` from
:mod:`pipelines.compare` (one row per run).

The columns, their headers and directions come from :mod:`pipelines.columns` (the registry of
metric columns). "Best" is per column and direction (e.g. highest accuracy, lowest energy).
Ties are all marked; missing values never win; speed figures measured under very different load
never compete (:func:`speed_note` says which were left out). Text formats mark the best cell (bold in
Markdown/LaTeX, ``*`` in plain text); CSV and JSON stay numeric and name the columns a run is
best in (``best_in``). LaTeX is written by pandas' ``Styler.to_latex``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler  # imported with the module: pandas loads it lazily, ~0.2 s

from . import speed
from .columns import MetricColumn, best_rule, table_columns

BEST_MARK = " ★"


ID_COLUMNS = {"label": "Run", "model": "Model", "method": "Method"}


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v))


def is_speed(col: MetricColumn) -> bool:
    """Latency and throughput: figures that move with the machine's load, not only with the model."""
    return bool(col.source) and col.source[0] == "speed"


def best_cells(runs: pd.DataFrame) -> dict[str, set[str]]:
    """Column key → run ids holding the best value (ties included; NaN never best).

    Speed columns compete only among figures measured under similar load (the quietest load
    band present, :func:`pipelines.speed.comparable_mask`): a figure from a quiet machine
    beside one from a machine three times overloaded says nothing about the two models.
    """
    out: dict[str, set[str]] = {}
    ids = np.asarray(runs["run_id"] if "run_id" in runs.columns else runs.index, dtype=object)
    speed_ok = _speed_comparable(runs)
    for col in table_columns():
        if col.key not in runs.columns:
            continue
        v = pd.to_numeric(runs[col.key], errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(v) & (speed_ok if is_speed(col) else True)
        if not ok.any():
            out[col.key] = set()
            continue
        target = v[ok].max() if col.higher_is_better else v[ok].min()
        out[col.key] = set(ids[ok & np.isclose(v, target, rtol=1e-9, atol=0)])
    return out


def _speed_comparable(runs: pd.DataFrame) -> np.ndarray:
    if "speed_band" not in runs.columns:
        return np.ones(len(runs), dtype=bool)
    return speed.comparable_mask(runs["speed_band"].astype(object)).to_numpy(dtype=bool)


def speed_note(runs: pd.DataFrame) -> str | None:
    """The footnote when some speed figures were kept out of the ★ (None when none were)."""
    if "speed_band" not in runs.columns or runs.empty:
        return None
    cols = [c for c in ("latency_ms", "throughput") if c in runs.columns]
    if not cols:
        return None
    measured = runs[cols].apply(pd.to_numeric, errors="coerce").notna().any(axis=1).to_numpy()
    left_out = measured & ~_speed_comparable(runs)
    if not left_out.any():
        return None
    names = ", ".join(str(x) for x in runs.loc[left_out, "label" if "label" in runs.columns else "run_id"].head(4))
    more = " …" if left_out.sum() > 4 else ""
    return (f"Speed ★ only between figures measured under similar load: {names}{more} measured under "
            "heavier load (or with no load recorded) compete for no ★. Re-measure their speed on a quieter "
            "machine (Runs page, or `python -m pipelines runs measure-speed RUN`).")


def _sig(v: float, digits: int) -> str:
    """Round to significant digits without scientific notation for the usual ranges."""
    if not _finite(v):
        return "–"
    v = float(v)
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    decimals = max(0, digits - 1 - mag)
    if abs(v) < 1e-4:
        return f"{v:.{digits - 1}e}"
    return f"{v:,.{decimals}f}"


def format_cell(row, col: MetricColumn) -> str:
    """One cell's text; ``row`` is a mapping (a record dict or a Series)."""
    v = row.get(col.key)
    if not _finite(v):
        return "–"
    if col.ci:
        lo, hi = (row.get(b) for b in col.bounds)
        if _finite(lo) and _finite(hi):
            return f"{float(v):.3f} ± {(float(hi) - float(lo)) / 2:.3f}"
        return f"{float(v):.3f}"
    return _sig(v, col.digits)


def formatted(runs: pd.DataFrame, mark=None, short: bool = False, ids: dict[str, str] | None = None) -> pd.DataFrame:
    """String table (Run, Model, Method, metric columns); ``mark(text)`` wraps the best cells.

    ``short``: the narrow on-screen headers; ``ids``: which identity columns to show.
    """
    best = best_cells(runs)
    id_cols = ID_COLUMNS if ids is None else ids
    cols = table_columns()
    headers = [c.short if short else c.header for c in cols]
    data: dict[str, list[str]] = {h: ["" if pd.isna(v) else str(v) for v in runs[k]] if k in runs.columns
                                  else [""] * len(runs) for k, h in id_cols.items()}
    records = runs.to_dict("records")
    for col, header in zip(cols, headers):
        cells = []
        winners = best.get(col.key, set())
        for rid, r in zip(runs.index, records):
            text = format_cell(r, col)
            cells.append(mark(text) if mark and rid in winners else text)
        data[header] = cells
    return pd.DataFrame(data, columns=[*id_cols.values(), *headers], index=pd.Index(list(runs.index), name="run_id"))


def display_table(runs: pd.DataFrame) -> pd.DataFrame:
    """What the Compare page shows: run name, formatted numbers with short headers, best cells ending in ★."""
    return formatted(runs, mark=lambda t: t + BEST_MARK, short=True, ids={"label": "Run"})


def styled_table(runs: pd.DataFrame | None = None, table: pd.DataFrame | None = None) -> Styler:
    """display_table (given, or built from ``runs``) with the best cells also shaded, for st.dataframe."""
    table = display_table(runs) if table is None else table

    def shade(col: pd.Series) -> list[str]:
        return ["background-color: #dff0d8; font-weight: 600" if str(v).endswith(BEST_MARK) else "" for v in col]

    return table.style.apply(shade, axis=0)


def numeric_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Numbers only (CI bounds as their own columns) plus ``best_in``: for CSV and JSON."""
    best = best_cells(runs)
    cols = ["run_id", "name", "label", "model", "method", "kind", "dataset_id", "split_hash"]
    for c in table_columns():
        cols.append(c.key)
        if c.ci:
            cols += list(c.bounds)
    out = runs.reindex(columns=cols).copy()
    out["best_in"] = [";".join(c.key for c in table_columns() if rid in best.get(c.key, set())) for rid in runs.index]
    return out.reset_index(drop=True)


def to_csv(runs: pd.DataFrame) -> str:
    return numeric_table(runs).to_csv(index=False, float_format="%.6g")


def to_json(runs: pd.DataFrame) -> str:
    records = json.loads(numeric_table(runs).to_json(orient="records", double_precision=6))
    return json.dumps(records, indent=2)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(runs: pd.DataFrame, caption: str | None = None) -> str:
    """GitHub-flavoured Markdown table; best cells in bold."""
    t = formatted(runs, mark=lambda s: f"**{s}**")
    align = ["---"] * len(ID_COLUMNS) + ["---:"] * len(table_columns())
    lines = ["| " + " | ".join(map(_md_escape, t.columns)) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_escape(str(v)) for v in row) + " |" for row in t.itertuples(index=False)]
    if caption:
        lines = [caption, ""] + lines
    note = speed_note(runs)
    return "\n".join(lines) + f"\n\nBold: best value in its column ({best_rule()}).\n" + (f"{note}\n" if note else "")


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def _latex_cell(text: str) -> str:
    return latex_escape(text).replace("±", r"$\pm$").replace("–", "--")


def to_latex(runs: pd.DataFrame, caption: str = "Comparison of runs on the same test split",
             label: str = "tab:comparison") -> str:
    """A booktabs table (needs \\usepackage{booktabs}) from ``Styler.to_latex``; best cells in \\textbf."""
    t = formatted(runs)
    best = best_cells(runs)
    marks = pd.DataFrame("", index=t.index, columns=t.columns)
    for col in table_columns():
        marks.loc[t.index.isin(list(best.get(col.key, ()))), col.header] = "textbf:--rwrap;"
    styler = (t.map(_latex_cell).style.hide(axis="index").format_index(_latex_cell, axis=1)
              .apply(lambda _: marks, axis=None))
    spec = "l" * len(ID_COLUMNS) + "r" * len(table_columns())
    tex = styler.to_latex(column_format=spec, position="ht", position_float="centering", hrules=True,
                          caption=latex_escape(caption), label=label, environment="table")
    return tex.replace("\\centering\n", "\\centering\n\\small\n", 1)


def to_text(runs: pd.DataFrame) -> str:
    """Aligned plain text for the terminal; best cells end in ``*``."""
    t = formatted(runs, mark=lambda s: s + "*")
    cols = list(t.columns)
    widths = [max(len(c), *(len(str(v)) for v in t[c])) if len(t) else len(c) for c in cols]
    right = [False] * len(ID_COLUMNS) + [True] * len(table_columns())

    def line(values) -> str:
        return "  ".join(str(v).rjust(w) if r else str(v).ljust(w) for v, w, r in zip(values, widths, right))

    out = [line(cols), line("-" * w for w in widths)]
    out += [line(row) for row in t.itertuples(index=False)]
    note = speed_note(runs)
    return "\n".join(out) + "\n* best in column\n" + (f"{note}\n" if note else "")


def per_class_table(per_class: pd.DataFrame, metric: str = "f1") -> pd.DataFrame:
    """Classes × runs table of one per-class metric (F1 by default)."""
    if per_class.empty:
        return pd.DataFrame()
    t = per_class.pivot_table(index="class", columns="label", values=metric, sort=False)
    return t.reindex(columns=list(dict.fromkeys(per_class["label"])))


FORMATS = {"table": to_text, "markdown": to_markdown, "csv": to_csv, "latex": to_latex, "json": to_json}


def render(runs: pd.DataFrame, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[fmt](runs)
