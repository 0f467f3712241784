"""How many labels do I need? Nested subsets, the ``curve`` job (a sweep over training-set size), its chart.

The curve runs on its own prepared copy of the Rotten Tomatoes sample (``rt_curve``), so the
shared ``rt_small`` comparison (whose Compare and Export pages other tests count charts on)
gains no learning-curve chart from it. TF-IDF points take seconds each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines import cli, curves, sweeps
from pipelines.compare import load_comparison
from pipelines.configs import FinetuneConfig
from pipelines.runfolder import RunFolder
from pipelines.store import Store
from pipelines.subsample import nested_order, nested_positions, nested_subset
from pipelines.tfidf import TfidfConfig


def test_nested_subsets_are_prefixes_of_one_stratified_order(rt_small):
    train = rt_small.train
    sizes = [10, 50, 200, 500]
    sets = [set(nested_subset(train, n, 42, False)["id"]) for n in sizes]
    assert [len(s) for s in sets] == sizes
    assert all(a < b for a, b in zip(sets, sets[1:])), "each smaller subset lies inside the larger ones"
    shares = train["label"].value_counts(normalize=True)
    for n in (50, 200):
        counts = nested_subset(train, n, 42, False)["label"].value_counts()
        for lab, share in shares.items():
            assert abs(counts.get(lab, 0) - share * n) <= 2, (n, lab)
    assert set(nested_subset(train, 2, 42, False)["label"]) == set(rt_small.labels), "every class from k texts"
    assert list(nested_positions(train, 50, 42, False)) == list(nested_positions(train, 50, 42, False))
    assert set(nested_subset(train, 50, 43, False)["id"]) != sets[1], "the seed picks the order"
    assert list(nested_positions(train, None, 42, False)) == list(range(len(train)))  # all = the split as is
    order = nested_order(None, 20, 1)
    assert sorted(order) == list(range(20))  # multi-label: a plain permutation


def test_nested_multi_label(genres_small):
    a, b = (set(nested_subset(genres_small.train, n, 3, True)["id"]) for n in (40, 120))
    assert len(a) == 40 and a < b


def test_existing_configs_keep_their_samples():
    assert TfidfConfig().nested_subsample is False and FinetuneConfig().nested_subsample is False
    assert cli.build_parser().parse_args(["baseline", "tfidf"]).nested_subsample is False


def test_sizes_parse_and_fold_into_all():
    assert curves.parse_sizes("250,50,all,100,50") == [50, 100, 250, None]
    assert curves.parse_sizes("50,1000,all", n_train=900) == [50, None]
    for bad in ("fifty", "1", ""):
        with pytest.raises(ValueError):
            curves.parse_sizes(bad)


@pytest.fixture(scope="module")
def rt_curve():
    from pipelines.data import prepare

    return prepare("rotten_tomatoes", name="rt_curve", max_rows=1200)


@pytest.fixture(scope="module")
def curve_runs(rt_curve):
    """Two real TF-IDF curves (all features; words only) with sizes 50, 200, all, through the CLI."""
    store = Store()
    out = {}
    for name, extra in (("TF-IDF", []), ("TF-IDF words", ["--char-ngram-max", "0"])):
        before = {r["id"] for r in store.runs(rt_curve.id)}
        assert cli.main(["curve", "--kind", "tfidf", "--dataset", rt_curve.id, "--sizes", "50,200,all",
                         "--speed-samples", "0", "--run-name", name, *extra]) == 0
        out[name] = [r for r in store.runs(rt_curve.id) if r["id"] not in before]
    return out


def test_tfidf_curve_runs_every_point_and_keeps_no_weights(curve_runs, rt_curve):
    store = Store()
    rows = curve_runs["TF-IDF"]
    assert len(rows) == 3 and len({r["sweep"] for r in rows}) == 1
    meta = store.get(sweeps.KV, rows[0]["sweep"])
    assert meta["curve"] is True and meta["keep"] == "none"
    sizes = []
    for r in rows:
        folder = RunFolder(r["path"])
        assert folder.metrics.exists() and folder.predictions.exists()
        assert sweeps.weights_dropped(folder.path) and not any(p.suffix == ".skops" for p in folder.model.iterdir())
        m = folder.read_metrics()
        sizes.append((m["train"]["train_samples"], m["macro_f1"], m["n"]))
    sizes.sort()
    assert [s[0] for s in sizes] == [50, 200, len(rt_curve.train)]
    assert {s[2] for s in sizes} == {len(rt_curve.test)}, "every point on the same test split"
    assert sizes[-1][1] >= sizes[0][1], "quality rises (roughly) with labels"


def test_curve_chart_one_line_per_curve_with_llm_references(curve_runs, rt_curve):
    from dashboard import charts

    comp = load_comparison(Store(), dataset_id=rt_curve.id)
    points = curves.curve_points(comp)
    assert sorted(points["line"].unique()) == ["TF-IDF curve", "TF-IDF words curve"]
    assert sorted(points[points["line"] == "TF-IDF curve"]["n_train"]) == [50, 200, len(rt_curve.train)]
    figs = charts.comparison_figures(comp)
    fig = figs["learning_curve"]
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert sorted(t.name for t in lines) == ["TF-IDF curve", "TF-IDF words curve"]
    assert sum(t.fill == "toself" for t in fig.data) == 2, "CIs as bands"
    assert fig.layout.xaxis.type == "log"
    assert curves.llm_references(comp).empty  # no LLM run on this dataset: no reference lines
    assert not [s for s in fig.layout.shapes if s.line.dash == "dash"]
    llm = pd.DataFrame([{"label": "SmolLM2 (zero-shot)", "mode": "zero", "run_id": "x", "value": 0.55, "lo": 0.5,
                         "hi": 0.6},
                        {"label": "SmolLM2 (few-shot)", "mode": "few", "run_id": "y", "value": 0.62, "lo": np.nan,
                         "hi": np.nan}])
    with_llm = charts.learning_curve(points, llm)
    dashed = [s for s in with_llm.layout.shapes if s.type == "line" and s.line.dash == "dash"]
    assert sorted(s.y0 for s in dashed) == [0.55, 0.62]
    assert {a.text for a in with_llm.layout.annotations} >= {"SmolLM2 (zero-shot) 0.550", "SmolLM2 (few-shot) 0.620"}
    assert "learning_curve" in charts.chart_titles()


def test_curve_cli_refuses_a_flag_of_another_kind(rt_curve, capsys):
    before = len(Store().jobs(limit=10_000))
    assert cli.main(["curve", "--dataset", rt_curve.id, "--lora-r", "4"]) == 2
    assert "not a flag of the tfidf kind" in capsys.readouterr().err
    assert cli.main(["curve", "--dataset", rt_curve.id, "--sizes", "10,ten"]) == 2
    assert len(Store().jobs(limit=10_000)) == before
