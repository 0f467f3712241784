"""dashboard.charts and pipelines.tables: pure functions (frame in, figure/table out), no Streamlit.

Frames come from real runs (tests/fixtures_compare.py); the few hand-made frames only pin
cases real tiny runs cannot produce on demand (a known Pareto front, a missing energy figure).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from pipelines import compare, tables


@pytest.fixture(scope="module")
def comp(two_runs):
    from pipelines.store import Store

    return compare.load_comparison(Store(), run_ids=two_runs.run_ids)


@pytest.fixture(scope="module")
def history(comp):
    from pipelines.store import Store

    return comp.history(Store())


def test_color_map_is_stable_and_shared():
    ids = ["20250101-000000-a", "20250102-000000-b", "20250103-000000-c"]
    assert charts.run_colors(ids) == charts.run_colors(list(reversed(ids)))  # by creation order, not call order
    cmap = charts.run_colors(ids)
    assert len(set(cmap.values())) == 3
    more = charts.run_colors([*ids, "20250104-000000-d"])
    assert all(more[i] == cmap[i] for i in ids), "a new run must not recolour older ones"
    many = charts.run_colors([f"2025{i:04d}-run" for i in range(30)])  # more runs than colours: the map cycles
    a, b = "20250000-run", f"2025{len(charts.PALETTE):04d}-run"
    assert many[a] == many[b]
    shown = charts.theme.colors_for([a, b], many)  # ...but two runs shown together never share a colour
    assert shown[a] == many[a] and shown[b] != shown[a]


def test_per_class_f1_bars_match_metrics(comp):
    colors = charts.run_colors(comp.run_ids)
    fig = charts.per_class_f1(comp.per_class(), colors)
    assert [t.type for t in fig.data] == ["bar"] * len(comp.run_ids)
    assert {t.name for t in fig.data} == set(comp.runs["label"])
    for tr, rid in zip(fig.data, comp.run_ids):
        want = [comp.metrics[rid]["per_class"][c]["f1"] for c in comp.labels]
        assert list(tr.y) == pytest.approx(want)
        assert tr.marker.color == colors[rid]
    support = comp.metrics[comp.run_ids[0]]["per_class"][comp.labels[0]]["support"]
    assert fig.data[0].x[0] == f"{comp.labels[0]} (n={support})"
    assert "(0–1)" in fig.layout.yaxis.title.text and fig.layout.barmode == "group"
    assert fig.layout.title.text


def test_confusion_matrices_normalised_with_counts_in_hover(comp):
    names = {r: comp.label_of(r) for r in comp.run_ids}
    fig = charts.confusion_matrices({r: comp.confusion(r) for r in comp.run_ids}, comp.labels, names)
    assert len(fig.data) == len(comp.run_ids) and all(t.type == "heatmap" for t in fig.data)
    for tr, rid in zip(fig.data, comp.run_ids):
        counts = np.asarray(comp.metrics[rid]["confusion_matrix"])
        assert np.asarray(tr.customdata).tolist() == counts.tolist()
        z = np.asarray(tr.z, dtype=float)
        rows = counts.sum(axis=1) > 0
        assert np.allclose(z[rows].sum(axis=1), 1.0)
        assert "%{customdata} texts" in tr.hovertemplate
    # side by side: disjoint x domains, one colour scale shown, subplot titles are run names in run colours
    doms = [fig.layout.xaxis.domain, fig.layout.xaxis2.domain]
    assert doms[0][1] <= doms[1][0]
    assert [t.showscale for t in fig.data] == [False, True]
    assert [a.text for a in fig.layout.annotations] == [names[r] for r in comp.run_ids]
    assert fig.layout.annotations[0].font.color == charts.run_colors(comp.run_ids)[comp.run_ids[0]]


def test_confusion_difference_signs():
    a = np.array([[8, 2], [5, 5]])
    b = np.array([[9, 1], [2, 8]])
    fig = charts.confusion_difference(a, b, ["neg", "pos"], "A run", "B run")
    tr = fig.data[0]
    assert [list(r) for r in tr.text] == [["+10.0", "-10.0"], ["-30.0", "+30.0"]]
    # colour = improvement for B: diagonal gains and off-diagonal drops are both positive here
    assert np.allclose(np.asarray(tr.z, dtype=float), [[10.0, 10.0], [30.0, 30.0]])
    assert tr.zmid == 0 and "B run − A run" in fig.layout.title.text
    assert "A run: %{customdata[0]} texts" in tr.hovertemplate


def test_training_curves_from_store_history(comp, history):
    fig = charts.training_curves(history, charts.run_colors(comp.run_ids))
    loss = [t for t in fig.data if t.xaxis == "x"]
    val = [t for t in fig.data if t.xaxis == "x2"]
    assert len(loss) == len(comp.run_ids) and len(val) == len(comp.run_ids)
    rid = comp.run_ids[0]
    h = history[(history["run_id"] == rid) & (history["name"] == "loss")].sort_values("step")
    first = next(t for t in loss if t.legendgroup == rid)
    assert list(first.x) == h["step"].tolist() and list(first.y) == pytest.approx(h["value"].tolist())
    assert fig.layout.xaxis.title.text == "Optimizer step"
    assert "Loss" in fig.layout.yaxis.title.text and "(0–1)" in fig.layout.yaxis2.title.text
    assert sum(bool(t.showlegend) for t in fig.data) == len(comp.run_ids)  # one legend entry per run
    empty = charts.training_curves(history.iloc[0:0])
    assert "not trained" in empty.layout.annotations[0].text


def _frame(rows):
    df = pd.DataFrame(rows)
    df["run_id"] = df["label"]
    return df.set_index("run_id", drop=False)


def test_pareto_frontier_points_and_axes():
    runs = _frame([
        {"label": "small", "macro_f1": 0.70, "macro_f1_lo": 0.65, "macro_f1_hi": 0.75, "energy_kwh": 0.001,
         "latency_ms": 5, "size_mb": 90, "params_m": 22},
        {"label": "big", "macro_f1": 0.88, "macro_f1_lo": 0.85, "macro_f1_hi": 0.91, "energy_kwh": 0.02,
         "latency_ms": 40, "size_mb": 420, "params_m": 109},
        {"label": "dominated", "macro_f1": 0.69, "macro_f1_lo": 0.6, "macro_f1_hi": 0.75, "energy_kwh": 0.005,
         "latency_ms": 7, "size_mb": 95, "params_m": 22},
        {"label": "unmeasured", "macro_f1": 0.9, "macro_f1_lo": 0.85, "macro_f1_hi": 0.95, "energy_kwh": np.nan,
         "latency_ms": 30, "size_mb": 300, "params_m": 80},
    ])
    fig = charts.pareto_chart(runs, x="energy_kwh", y="macro_f1")
    front = next(t for t in fig.data if t.name == "Pareto frontier")
    assert list(front.x) == [0.001, 0.02] and list(front.y) == [0.70, 0.88]
    assert front.line.shape == "hv"
    points = {t.name: t for t in fig.data if t.name != "Pareto frontier"}
    assert set(points) == {"small", "big", "dominated"}, "a run without energy cannot be placed"
    assert points["small"].text == ("small",) and points["dominated"].text is None
    assert points["big"].error_y.array[0] == pytest.approx(0.03)
    assert "kWh" in fig.layout.xaxis.title.text and "(0–1)" in fig.layout.yaxis.title.text
    assert "Not shown (no energy recorded): unmeasured" in fig.layout.annotations[0].text
    assert points["big"].marker.size > points["small"].marker.size  # size encodes model MB
    lat = charts.pareto_chart(runs, x="latency_ms")
    assert "ms per text" in lat.layout.xaxis.title.text
    size = charts.pareto_chart(runs, x="size_mb")
    assert "(MB" in size.layout.xaxis.title.text
    with pytest.raises(ValueError, match="x must be one of"):
        charts.pareto_chart(runs, x="params")


def test_energy_breakdown_shows_phases_and_method(comp):
    em = comp.emissions()
    colors = charts.run_colors(comp.run_ids)
    fig = charts.energy_breakdown(em, colors)
    bars = [t for t in fig.data if t.x and t.x[0] is not None]
    energy = [t for t in bars if t.xaxis == "x"]
    assert {t.name for t in energy} == {"train phase", "eval phase"}
    train = next(t for t in energy if t.name == "train phase")
    want = em[em["phase"] == "train"].set_index("run_id").loc[comp.run_ids, "energy_kwh"].tolist()
    assert list(train.y) == pytest.approx(want)
    assert list(train.marker.color) == [colors[r] for r in comp.run_ids]
    co2 = next(t for t in bars if t.xaxis == "x2" and t.name == "train phase")
    assert list(co2.y) == pytest.approx(em[em["phase"] == "train"].set_index("run_id").loc[comp.run_ids,
                                                                                        "co2_g"].tolist())
    assert fig.layout.barmode == "stack" and "(kWh)" in fig.layout.yaxis.title.text
    assert "(g)" in fig.layout.yaxis2.title.text
    note = fig.layout.annotations[-1].text
    assert "CPU: CPU load × assumed 4 W/thread (estimate)" in note or "CPU: RAPL" in note
    assert "grid" in note and "CPU: %{customdata[1]}" in train.hovertemplate


def test_one_colour_per_run_across_all_charts(comp, history):
    colors = charts.run_colors(comp.run_ids)
    figs = [charts.per_class_f1(comp.per_class(), colors), charts.training_curves(history, colors),
            charts.pareto_chart(comp.runs, colors=colors)]
    for rid in comp.run_ids:
        label = comp.label_of(rid)
        seen = {charts.figure_colors(f).get(label) for f in figs}
        assert seen == {colors[rid]}, (label, seen)
    em = charts.energy_breakdown(comp.emissions(), colors)
    assert list(em.data[0].marker.color) == [colors[r] for r in comp.run_ids]


# ------------------------------------------------------------------------------ tables

def test_metrics_table_marks_best_per_column(comp):
    runs = comp.runs
    best = tables.best_cells(runs)
    top_acc = runs["accuracy"].idxmax()
    low_energy = runs["energy_kwh"].idxmin()
    assert top_acc in best["accuracy"] and low_energy in best["energy_kwh"]
    shown = tables.display_table(runs)
    assert shown.loc[low_energy, "Energy kWh"].endswith("★")
    acc = shown.loc[top_acc, "Accuracy ± CI"]
    half = (runs.at[top_acc, "accuracy_hi"] - runs.at[top_acc, "accuracy_lo"]) / 2
    assert acc == f"{runs.at[top_acc, 'accuracy']:.3f} ± {half:.3f} ★"
    md = tables.to_markdown(runs)
    assert f"**{acc[:-2]}**" in md and md.count("\n| ") == len(runs) + 1
    tex = tables.to_latex(runs)
    assert "\\textbf{" + acc[:-2].replace("±", "$\\pm$") + "}" in tex and "\\toprule" in tex
    csv = pd.read_csv(pd.io.common.StringIO(tables.to_csv(runs)))
    assert csv.loc[csv["run_id"] == top_acc, "best_in"].iloc[0].split(";")[0] == "accuracy"
    assert "*" in tables.to_text(runs)


def test_best_cells_ties_and_missing():
    runs = _frame([{"label": "a", "accuracy": 0.8, "energy_kwh": np.nan, "latency_ms": 3.0},
                   {"label": "b", "accuracy": 0.8, "energy_kwh": 0.1, "latency_ms": 5.0}])
    best = tables.best_cells(runs)
    assert best["accuracy"] == {"a", "b"} and best["energy_kwh"] == {"b"} and best["latency_ms"] == {"a"}
    assert tables.latex_escape("a_b & 50%") == r"a\_b \& 50\%"
    with pytest.raises(ValueError, match="unknown format"):
        tables.render(runs, "xlsx")
