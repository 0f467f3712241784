"""Export: every comparison chart as PNG, SVG, PDF and interactive HTML; tables; one zip bundle.

The page renders fast because no file is made until it is asked for: each download button
gets a callable (Streamlit calls it on click, on a separate thread), and
``dashboard.export`` caches the bytes by chart content, so a second click is instant. Tables
are small and built at once. Charts are the same objects the Compare page shows.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, compare_state, export, state
from pipelines.stats import significance

FORMAT_LABELS = {"png": "PNG", "svg": "SVG", "pdf": "PDF", "html": "HTML"}

st.title("Export")
st.caption("Charts as PNG (print resolution), SVG and PDF for papers, interactive HTML that opens offline; "
           "tables as CSV, Markdown and LaTeX; or everything in one zip.")
sel = compare_state.select("export")
if sel.error:
    (st.error if sel.error.startswith("Refused") else st.info)(sel.error)
    st.stop()

comp = sel.comp
st.markdown(compare_state.describe(comp))
ranked = comp.best("macro_f1")
labels = {rid: comp.label_of(rid) for rid in comp.run_ids}
detail_default = ranked[: compare_state.DETAIL_DEFAULT]
c1, c2, c3 = st.columns([2, 1, 1])
detail = c1.multiselect("Runs in the per-run charts", comp.run_ids, default=detail_default,
                        format_func=labels.get, key="export_detail")
pair_default = (state.qp_get("a"), state.qp_get("b"))
ids = comp.run_ids
a0 = pair_default[0] if pair_default[0] in labels else ranked[min(1, len(ranked) - 1)]
b0 = pair_default[1] if pair_default[1] in labels else ranked[0]
run_a = c2.selectbox("Run A", ids, index=ids.index(a0), format_func=labels.get, key="export_a")
run_b = c3.selectbox("Run B", ids, index=ids.index(b0), format_func=labels.get, key="export_b")
pair = (run_a, run_b) if run_a != run_b else None
figs = sel.figures(detail, pair)
stem = export.file_stem(comp)


def _deferred(fig, fmt):
    return lambda: export.figure_bytes(fig, fmt)


# ------------------------------------------------------------------ charts
st.subheader("Charts")
titles = charts.chart_titles()
for name, fig in figs.items():
    row = st.columns([3, 1, 1, 1, 1], vertical_alignment="center")
    row[0].markdown(f"**{titles.get(name, name)}**  \n`{stem}-{name}`")
    for col, fmt in zip(row[1:], export.FORMATS):
        col.download_button(FORMAT_LABELS[fmt], data=_deferred(fig, fmt), file_name=f"{stem}-{name}.{fmt}",
                            mime=export.MIME[fmt], key=f"dl_{name}_{fmt}", on_click="ignore",
                            icon=":material/download:", width="stretch")

# ------------------------------------------------------------------ tables
st.subheader("Tables")
files = export.table_files(comp, comp.runs.loc[ranked])
kinds = [("metrics.csv", "Metrics CSV"), ("metrics.md", "Metrics Markdown"), ("metrics.tex", "Metrics LaTeX"),
         ("metrics.json", "Metrics JSON"), ("per_class_f1.csv", "Per-class F1 CSV"),
         ("per_class_f1.md", "Per-class F1 Markdown")]
cols = st.columns(3)
for i, (fname, label) in enumerate(k for k in kinds if k[0] in files):
    ext = fname.rsplit(".", 1)[1]
    cols[i % 3].download_button(label, data=files[fname], file_name=f"{stem}-{fname}", mime=export.MIME[ext],
                                key=f"dl_table_{fname}", on_click="ignore", icon=":material/table:",
                                width="stretch")
with st.expander("Preview: Markdown table"):
    st.code(files["metrics.md"].decode(), language="markdown")
with st.expander("Preview: LaTeX table"):
    st.code(files["metrics.tex"].decode(), language="latex")

# ------------------------------------------------------------------ bundle
st.subheader("Everything in one zip")
st.caption("Charts in all four formats, the tables, the significance test of A vs B, and each run's config.json, "
           "metrics.json and emissions.csv. Built when you click (about 0.3 s per image once the renderer runs).")


def _bundle() -> bytes:
    sig = None
    if pair:
        try:
            sig = significance(comp, *pair)  # not the st.cache_data wrapper: this runs off the script thread
        except (ValueError, FileNotFoundError):
            sig = None
    return export.bundle_zip(comp, figs, significance=sig)


st.download_button("Download the comparison bundle (.zip)", data=_bundle, file_name=f"{stem}-comparison.zip",
                   mime=export.MIME["zip"], key="dl_bundle", on_click="ignore", type="primary",
                   icon=":material/folder_zip:")
