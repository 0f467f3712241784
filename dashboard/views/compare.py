"""Compare: every run on one test split side by side (refuses to mix splits, with the reason).

Metrics table with CIs (best per column marked), Pareto charts of quality vs energy, latency
and size, per-class F1, confusion matrices with a difference view, training curves, the
energy/CO2 breakdown with how power was measured, a paired significance test of two
runs, the spread of seed groups and the learning curves. The verdict on top links each of its
sentences to a section anchor here (``#quality``, ``#cost``, ``#significance``, ``#energy``,
``#seeds``, ``#learning-curve``); the quality charts mark the TF-IDF reference. The
selection lives in the URL (``?dataset=``, ``?runs=a,b``, ``?a=``/``?b=``), so a
reload or a shared link shows the same comparison.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, collapse_view, compare_state, speed_view, state, verdict_view
from dashboard.charts import CONFUSION_MAX
from pipelines import collapse, columns, verdict


def _column_name(key: str) -> str:
    """A metric column's name with its unit, for the axis choices: "Energy (kWh)"."""
    col = columns.REGISTRY[key]
    return col.with_unit(col.title_name)


st.title("Compare runs")
sel = compare_state.select("compare")
if sel.error:
    (st.error if sel.error.startswith("Refused") else st.info)(sel.error)
    if sel.explicit:
        st.caption("Clear “Only these runs” to compare every run on the chosen dataset's split.")
    st.stop()

comp = sel.comp
st.markdown(compare_state.describe(comp))
for note in comp.notes:
    st.caption(f"Note: {note}")
collapse_view.show(collapse.collapsed_runs(comp))  # runs that answer (almost) one class, with their shares
verdict_view.show_comparison(comp, sel.key)

ranked = comp.best("macro_f1")

# ------------------------------------------------------------------ table
st.subheader("Metrics", anchor="quality")
st.dataframe(sel.table(ranked), hide_index=True, key="compare_table")
st.caption(f"★ best in its column ({columns.best_rule()}). ± is half the 95% bootstrap CI on the test split. "
           "Energy and CO2eq cover training and evaluation; latency is per text at batch 1, throughput texts per "
           "second at batch 32.")
speed_view.show(comp.runs)  # speed stars only under similar load; re-measure the loaded ones

# ------------------------------------------------------------------ Pareto
st.subheader("Quality vs cost", anchor="cost")
c1, c2 = st.columns(2)
x = c1.radio("Cost axis", list(charts.cost_axes()), format_func=_column_name, horizontal=True, key="cmp_x")
quality = c2.radio("Quality axis", list(charts.quality_axes()), format_func=_column_name, horizontal=True,
                   key="cmp_y")

# ------------------------------------------------------------ run choices
ids = comp.run_ids
labels = {rid: comp.label_of(rid) for rid in ids}
default_detail = ranked[: compare_state.DETAIL_DEFAULT]
if "cmp_detail" in st.session_state:  # drop runs that left the comparison (dataset switched)
    kept = [r for r in st.session_state["cmp_detail"] if r in labels]
    if kept != st.session_state["cmp_detail"]:
        st.session_state["cmp_detail"] = kept or default_detail
pair_default = (ranked[1] if len(ranked) > 1 else ranked[0], ranked[0])  # B = the best run


def _pick(widget_key: str, param: str, fallback: str) -> str:
    """The run of a pair selectbox: its current value, else the URL/store, else the default."""
    for candidate in (st.session_state.get(widget_key), state.qp_get(param)):
        if candidate in labels:
            return candidate
    return fallback


run_a, run_b = _pick("cmp_a", "a", pair_default[0]), _pick("cmp_b", "b", pair_default[1])
detail = st.session_state.get("cmp_detail", default_detail)
pareto_name = charts.chart_name(x)
figs = sel.figures(detail, (run_a, run_b) if run_a != run_b else None, quality,
                   only=[pareto_name, "per_class_f1", "confusion_matrices", "confusion_difference", "training_curves",
                         "energy_co2", "learning_curve"])
st.plotly_chart(figs[pareto_name], theme=None, key="chart_pareto")
if verdict.reference_run(comp):
    st.caption("Dotted line and grey band: the TF-IDF reference of this dataset and its 95% CI.")

# ------------------------------------------------------------ per-run detail
st.subheader("Per class")
detail = st.multiselect("Runs in the per-run charts", ids,
                        default=None if "cmp_detail" in st.session_state else default_detail, format_func=labels.get,
                        key="cmp_detail", help="Per-class bars, confusion matrices, curves and energy bars are "
                                               "easiest to read for a handful of runs; the best by macro-F1 "
                                               "are preselected.")
if not detail:
    st.info("Pick at least one run for the per-run charts.")
else:
    st.plotly_chart(figs["per_class_f1"], theme=None, key="chart_per_class")
    if "confusion_matrices" in figs:
        st.plotly_chart(figs["confusion_matrices"], theme=None, key="chart_confusion")
        if len(detail) > CONFUSION_MAX:
            st.caption(f"Confusion matrices of the first {CONFUSION_MAX} chosen runs.")

# ------------------------------------------------------------ pair: difference + significance
st.subheader("Two runs head to head", anchor="significance")
c1, c2 = st.columns(2)
run_a = c1.selectbox("Run A (baseline)", ids, index=ids.index(run_a), format_func=labels.get, key="cmp_a")
run_b = c2.selectbox("Run B (challenger)", ids, index=ids.index(run_b), format_func=labels.get, key="cmp_b")
state.qp_set("a", run_a)
state.qp_set("b", run_b)
if run_a == run_b:
    st.info("Choose two different runs to see their difference and a significance test.")
else:
    left, right = st.columns([3, 2])
    if "confusion_difference" in figs:
        left.plotly_chart(figs["confusion_difference"], theme=None, key="chart_confusion_diff")
    with right:
        try:
            sig = sel.significance(run_a, run_b)
        except (ValueError, FileNotFoundError) as exc:
            st.error(f"Significance test not possible: {exc}")
        else:
            mc, ba, bf = sig["mcnemar"], sig["bootstrap_accuracy"], sig["bootstrap_macro_f1"]
            st.markdown(f"**{labels[run_b]}** vs **{labels[run_a]}** on the same {sig['n']} test examples")
            st.markdown(f"**McNemar** ({mc['method']}): {labels[run_a]} alone right on {mc['only_a_correct']}, "
                        f"{labels[run_b]} alone right on {mc['only_b_correct']} examples.  \n{mc['words']}")
            st.markdown(f"**Paired bootstrap, accuracy**: B − A = {ba['difference']:+.3f} "
                        f"(95% CI {ba['ci'][0]:+.3f} to {ba['ci'][1]:+.3f}).  \n{ba['words']}")
            st.markdown(f"**Paired bootstrap, macro-F1**: B − A = {bf['difference']:+.3f} "
                        f"(95% CI {bf['ci'][0]:+.3f} to {bf['ci'][1]:+.3f}).  \n{bf['words']}")
            st.caption(f"{ba['n_bootstrap']} bootstrap resamples of the test examples, both runs scored on each.")

# ------------------------------------------------------------ training + energy
st.subheader("Training")
if detail and "training_curves" in figs:
    st.plotly_chart(figs["training_curves"], theme=None, key="chart_curves")
st.subheader("Energy and emissions", anchor="energy")
if detail:
    st.plotly_chart(figs["energy_co2"], theme=None, key="chart_energy")

# ------------------------------------------------------------ seeds + learning curve
spread = verdict.seed_spread(comp, verdict_view.seed_groups(comp))
if not spread.empty:
    st.subheader("Spread across seeds", anchor="seeds")
    st.dataframe(spread.round(4), hide_index=True, key="compare_seeds")
    st.caption("Each seed group is the same configuration trained with consecutive seeds (--seeds N); the table "
               "above shows each seed's run. A gap between two models smaller than their spread is seed noise.")
if "learning_curve" in figs:
    st.subheader("How many labels do I need?", anchor="learning-curve")
    st.plotly_chart(figs["learning_curve"], theme=None, key="chart_learning_curve")
    st.caption("Each point trains on a nested subset of the train split (the smaller sets lie inside the larger "
               "ones) and is scored on the same test split. Queue one: python -m pipelines curve --kind tfidf.")
