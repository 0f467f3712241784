"""Playground: one text, every selected model's answer side by side.

The models run in the predictor service (``python -m pipelines serve``), never in this
process: the page sends the text over HTTP on 127.0.0.1 and draws what comes back. The last
answer is kept in the store, so a reload or a visit from another page shows it again.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard import analysis, charts, services, state
from dashboard.safe_html import html_text, safe_colour

LAST_KEY = "playground_last"
MAX_EXAMPLES = 300
PER_ROW = 3

st.title("Playground")
dataset_id, rows = state.dataset_runs(
    "pg_dataset", "No runs on this dataset yet: queue the demo on Home or configure runs on the Runs page.")

by_id = {r["id"]: r for r in rows}
run_ids = state.runs_picker(rows, label="Models", key="pg_runs")
colours = state.run_colors()

ds = state.prepared_dataset(dataset_id)
source = st.radio("Input", ["Type a text", "Pick a test example"], horizontal=True, key="pg_source",
                  index=1 if state.qp_get("example") else 0)
gold = None
example_id = None
if source == "Pick a test example" and ds is not None:
    test = ds.test.head(MAX_EXAMPLES)
    ids = test["id"].tolist()
    wanted = state.qp_get("example")
    idx = ids.index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in ids else 0
    example_id = st.selectbox("Test example", ids, index=idx, key="pg_example",
                              format_func=lambda i: f"#{i} · " + str(test.loc[test["id"] == i, "text"].iloc[0])[:110])
    state.qp_set("example", str(example_id))
    ex = test[test["id"] == example_id].iloc[0]
    text = str(ex["text"])
    gold = list(ex["labels"]) if ds.multi_label else str(ex["label"])
    st.markdown(f"> {text}")
else:
    state.qp_set("example", None)
    saved = state.kv_items(state.UI_NS).get("playground_text") or ""
    text = st.text_area("Text", value=saved, height=110, key="pg_text",
                        placeholder="e.g. A gripping, beautifully shot film that never finds its heart.")
    if text != saved:
        state.store().put(state.UI_NS, "playground_text", text)

go = st.button("Predict", type="primary", icon=":material/bolt:", disabled=not run_ids or not text.strip(),
               key="pg_go")
if go:
    with st.spinner("Asking the predictor service (a model's first use loads it, a few seconds)…"):
        try:
            answer = services.predict(state.store(), run_ids, [text])
        except (services.ServiceError, OSError) as exc:
            st.error(f"No prediction: {exc}")
            st.stop()
    state.store().put(state.UI_NS, LAST_KEY, {"text": text, "gold": gold, "example": example_id, "runs": run_ids,
                                              "answer": answer, "at": time.time()})
    state.refresh()

last = state.kv_items(state.UI_NS).get(LAST_KEY)
if not last:
    st.caption("Pick models, type a text or pick a test example, and press Predict.")
    st.stop()

answer = last["answer"]
results = [r for r in answer["results"] if r["run_id"] in by_id]
if last["text"] != text or last["runs"] != run_ids:
    st.caption("Showing the last prediction (press Predict for the current text and models).")
    if last["text"] != text:
        st.markdown(f"> {last['text']}")
for run_id, err in answer.get("errors", {}).items():
    st.error(f"{state.run_label(by_id.get(run_id, {'id': run_id}))}: {err}")
if not results:
    st.stop()

summary = analysis.agreement(results, last.get("gold"))
if last.get("gold") is not None:
    st.markdown(f"**Gold label:** `{summary['gold']}`")
if summary["disagree"]:
    st.warning("**The models disagree:** " + ", ".join(
        f"{state.run_label(by_id[r])} → `{p}`" for r, p in summary["preds"].items()), icon=":material/call_split:")
else:
    st.success(f"All {len(results)} models predict `{summary['labels'][0]}`.", icon=":material/check_circle:")

for start in range(0, len(results), PER_ROW):
    cols = st.columns(PER_ROW)
    for col, res in zip(cols, results[start:start + PER_ROW]):
        run = by_id[res["run_id"]]
        pred = res["pred"][0]
        pred_s = analysis.norm_label(pred)
        with col.container(border=True):
            verdict = ""
            if "correct" in summary:
                verdict = (" :green[:material/check_circle: right]" if summary["correct"][res["run_id"]]
                           else " :red[:material/cancel: wrong]")
            st.markdown(f"<span style='color:{safe_colour(colours.get(run['id']))}'>●</span> "
                        f"**{html_text(state.run_label(run))}**", unsafe_allow_html=True)
            st.markdown(f"Prediction: `{pred_s}`{verdict}")
            load = f" (+{res['load_ms'] / 1000:.1f} s loading)" if res.get("load_ms") else ""
            st.caption(f"{run['kind']} · {res['latency_ms']:.1f} ms{load}")
            st.plotly_chart(charts.probability_bars(res["labels"], res["proba"][0], colours.get(run["id"], "#4C78A8"),
                                                  pred, last.get("gold")), key=f"pg_bars_{res['run_id']}")

with st.expander("Latency per model"):
    st.dataframe(pd.DataFrame([{"model": state.run_label(by_id[r["run_id"]]), "latency (ms)": r["latency_ms"],
                                "loading (ms)": r.get("load_ms") or 0.0} for r in results]),
                 hide_index=True, column_config={"latency (ms)": st.column_config.NumberColumn(format="%.1f"),
                                                 "loading (ms)": st.column_config.NumberColumn(format="%.0f")})
