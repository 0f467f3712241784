"""pipelines.columns: one registry entry is all it takes for a metric column to reach the store summary,
the comparison frame, the metrics table, the charts and ``python -m pipelines compare``.

The extra column reads a number every fine-tune run already writes (``train.train_runtime_s``), so
the test needs no new computation and reuses the comparison area's real runs (tests/fixtures_compare.py).
"""

from __future__ import annotations

import argparse
from io import StringIO

import pandas as pd
import pytest

from dashboard import charts
from pipelines import columns, compare, runs, tables
from pipelines.commands import compare as compare_command


def _cli_compare(argv: list[str]) -> int:
    """``python -m pipelines compare …`` in this process (the registered column lives here): the command's
    own parser and run function, as pipelines.cli dispatches them."""
    parser = argparse.ArgumentParser(prog="python -m pipelines")
    compare_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture()
def runtime_column():
    """A training-time column, registered for one test and removed after it."""
    col = columns.register(columns.MetricColumn(
        "train_runtime_s", "training time", "Training time (s)", "Train s", False, ("train", "train_runtime_s"),
        "train_runtime_s", unit="s", axis="Training time (s)", role="cost"))
    yield col
    columns.unregister(col.key)


def test_a_registered_column_reaches_summary_table_chart_and_cli(two_runs, runtime_column, store, capsys):
    comp = compare.load_comparison(store, run_ids=two_runs.run_ids)
    want = [comp.metrics[r]["train"]["train_runtime_s"] for r in comp.run_ids]
    assert comp.runs["train_runtime_s"].tolist() == pytest.approx(want)
    assert [runs.summary_from_metrics(comp.metrics[r])["train_runtime_s"] for r in comp.run_ids] == want

    fastest = comp.run_ids[want.index(min(want))]
    shown = tables.display_table(comp.runs)
    assert shown.loc[fastest, "Train s"].endswith(tables.BEST_MARK)
    assert "| Training time (s) |" in tables.to_markdown(comp.runs)
    assert "Training time (s)" in tables.to_latex(comp.runs) and "lower" in columns.best_rule()

    figs = charts.comparison_figures(comp, only=["pareto_train", "pareto_energy"])
    assert charts.chart_titles()["pareto_train"] == "Quality vs training time (Pareto)"
    runtime = figs["pareto_train"]
    assert runtime.layout.xaxis.title.text.startswith("Training time (s)")
    assert runtime.layout.title.text == "Macro-F1 vs training time: Pareto frontier"
    points = [t for t in runtime.data if t.name != "Pareto frontier"]
    assert sorted(x for t in points for x in t.x) == pytest.approx(sorted(want))
    assert "training time" in figs["pareto_energy"].data[0].hovertemplate  # every chart's hover lists it

    assert _cli_compare(["compare", "--runs", *two_runs.run_ids, "--format", "csv", "--sort", "train_runtime_s"]) == 0
    out = pd.read_csv(StringIO(capsys.readouterr().out))
    assert out["train_runtime_s"].tolist() == pytest.approx(sorted(want))  # sorted best (fastest) first
    assert _cli_compare(["compare", "--runs", *two_runs.run_ids]) == 0
    assert "Training time (s)" in capsys.readouterr().out.splitlines()[0]  # the terminal table's header


def test_registry_defaults_and_cli_formats():
    keys = [c.key for c in columns.table_columns()]
    assert keys == ["accuracy", "macro_f1", "energy_kwh", "co2_g", "latency_ms", "throughput", "params_m", "size_mb"]
    assert [c.key for c in columns.cost_columns()] == ["energy_kwh", "latency_ms", "size_mb"]
    assert columns.higher_is_better("accuracy") and not columns.higher_is_better("energy_kwh")
    co2 = columns.REGISTRY["co2_g"]
    assert co2.value({"emissions": {"total_co2_kg": 0.002}}) == pytest.approx(2.0)
    assert co2.value({}, {"co2_kg": 0.003}) == pytest.approx(3.0)  # the store summary when metrics.json is gone
    assert columns.summary({"model": {"total_params": 5}})["params"] == 5
    assert set(compare_command.FORMATS) == set(tables.FORMATS)  # the CLI's list mirrors the table formats
