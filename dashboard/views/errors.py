"""Errors: test examples where the chosen models disagree or are all wrong, with each model's scores.

Built from the runs' saved ``predictions.parquet`` only (no model is loaded), and only for
runs on the same split: scores on different test sets say nothing about each other.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analysis, charts, state
from dashboard.visible_text import has_controls, visible
from pipelines.runfolder import RunFolder
from pipelines.runs import PROB_PREFIX

MAX_ROWS = 500

st.title("Errors")
dataset_id, rows = state.dataset_runs("err_dataset", "No runs on this dataset yet.")

by_id = {r["id"]: r for r in rows}
run_ids = state.runs_picker(rows, label="Models", key="err_runs")
if not run_ids:
    st.info("Pick at least one model.")
    st.stop()
splits = {by_id[r]["split_hash"] for r in run_ids}
if len(splits) > 1:
    st.error(f"The chosen runs were evaluated on {len(splits)} different splits of `{dataset_id}` "
             f"({', '.join(sorted(splits))}): their test examples differ, so they cannot be compared example by "
             "example. Pick runs that share one split hash.")
    st.stop()

preds, missing = {}, []
for r in run_ids:
    df = state.predictions(by_id[r])
    if df is None:
        missing.append(state.run_label(by_id[r]))
    else:
        preds[r] = df
if missing:
    st.warning(f"No {RunFolder.PREDICTIONS} for: {', '.join(missing)}.")
if not preds:
    st.stop()

names = {r: state.run_label(by_id[r]) for r in preds}
table = analysis.join_predictions(preds, names)
if any(len(df) != len(table) for df in preds.values()):
    sizes = ", ".join(f"{names[r]} {len(df)}" for r, df in preds.items())
    st.caption(f"Compared on the {len(table):,} test examples every chosen model scored ({sizes}): "
               "a run limited to part of the test split limits the comparison too.")

c = st.columns(4)
c[0].metric("Test examples", f"{len(table):,}")
c[1].metric("Models disagree", f"{int(table['disagree'].sum()):,}")
c[2].metric("All models wrong", f"{int(table['all_wrong'].sum()):,}")
c[3].metric("Any model wrong", f"{int((table['n_wrong'] > 0).sum()):,}")

views = list(analysis.VIEWS)
view_qp = state.qp_get("errors_view")
if view_qp not in views:  # first visit: disagreements when there are any, else the shared mistakes
    view_qp = "disagree" if table["disagree"].any() or len(preds) == 1 else "any_wrong"
view = st.radio("Show", views, index=views.index(view_qp), format_func=analysis.VIEWS.get, key="err_view",
                horizontal=True)
f2, f3 = st.columns(2)
state.qp_set("errors_view", view)
golds = sorted(table["gold"].unique())
pred_cols = [c for c in table.columns if c.startswith("pred::")]
predicted_classes = sorted(set(table[pred_cols].to_numpy().ravel()))
gold_pick = f2.multiselect("Gold class", golds, key="err_gold")
pred_pick = f3.multiselect("Predicted class (by any model)", predicted_classes, key="err_pred")
shown = analysis.filter_examples(table, view, gold_pick, pred_pick)

st.subheader(f"{len(shown):,} example(s)" + (f" (first {MAX_ROWS})" if len(shown) > MAX_ROWS else ""))
if shown.empty:
    st.success("Nothing to show for these filters.")
    st.stop()

display = pd.DataFrame({"id": shown["id"], "text": shown["text"].map(visible), "gold": shown["gold"]})
colcfg = {"text": st.column_config.TextColumn(width="large")}
for r in preds:
    n = names[r]
    display[f"{n}"] = [("✓ " if ok else "✗ ") + p for p, ok in zip(shown[f"pred::{r}"], shown[f"correct::{r}"])]
    display[f"{n} · p(gold)"] = shown[f"p_gold::{r}"].to_numpy()
    colcfg[f"{n}"] = st.column_config.TextColumn(help=f"{n}'s prediction (✓ right, ✗ wrong)")
    colcfg[f"{n} · p(gold)"] = st.column_config.ProgressColumn(
        format="%.2f", min_value=0.0, max_value=1.0, help=f"probability {n} gave the gold class")
rows_shown = min(len(display), MAX_ROWS)
st.dataframe(display.head(MAX_ROWS), hide_index=True, column_config=colcfg, height=min(460, 40 + 35 * rows_shown))

st.subheader("One example in detail")
ids = shown["id"].head(MAX_ROWS).tolist()
pick = st.selectbox("Example", ids, key="err_example",
                    format_func=lambda i: f"#{i} · " + visible(shown.loc[shown["id"] == i, "text"].iloc[0])[:110])
row = shown[shown["id"] == pick].iloc[0]
st.code(visible(row["text"]), language=None, wrap_lines=True)  # as written: no markdown, controls as escapes
if has_controls(row["text"]):
    st.caption("`\\x80`–`\\x9f` escapes: bytes a Windows code page uses for quotes and dashes, read here as "
               "control characters. Prepare the file again with its encoding (the Data page detects it).")
st.markdown(f"**Gold:** `{row['gold']}`")
colors = state.run_colors()
cols = st.columns(min(3, len(preds)))
for i, (r, df) in enumerate(preds.items()):
    ex = df[df["id"] == pick].iloc[0]
    labels = [c[len(PROB_PREFIX):] for c in df.columns if c.startswith(PROB_PREFIX)]
    proba = [float(ex[PROB_PREFIX + lab]) for lab in labels]
    pred = ex["pred"]
    pred = list(pred) if not isinstance(pred, str) else pred
    gold = ex["gold"] if isinstance(ex["gold"], str) else list(ex["gold"])
    with cols[i % len(cols)]:
        st.plotly_chart(charts.probability_bars(labels, proba, colors.get(r, charts.PALETTE[0]), pred, gold,
                                                title=names[r]),
                        key=f"err_bars_{r}")
