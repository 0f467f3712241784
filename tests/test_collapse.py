"""Collapsed runs are flagged everywhere, with the prediction shares beside the gold shares.

A majority-class predictor (the test-only ``majority`` kind) is collapsed by definition: it
answers one class for every text. Its run must carry the warning in metrics.json, in the
CLI's ``compare`` and ``runs show``, and on the dashboard's Home and Compare pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import collapse
from pipelines.runfolder import RunFolder
from tests.fixtures_data import quiet_store
from tests.kind_majority import majority_run

ENTRY = Path(__file__).resolve().parent.parent / "dashboard" / "Home.py"


def test_distribution_rules():
    labels = ["a", "b", "c"]
    ok = collapse.distribution(list("aabbcc"), list("abbbcc"), labels, False)
    assert ok["warning"] is None and ok["predicted"] == {"a": 1, "b": 3, "c": 2}
    never = collapse.distribution(list("aabbcc"), list("aabbbb"), labels, False)
    assert "never predicts 'c'" in never["warning"]
    skewed = collapse.distribution(list("aaaaaaaaab"), list("aaaaaaaaaa"), ["a", "b"], False)
    assert "never predicts 'b'" in skewed["warning"] and "for 100%" in skewed["warning"]
    # 90% of one class is fine when the gold is just as skewed (and every class is predicted)
    gold = ["a"] * 19 + ["b"]
    assert collapse.distribution(gold, gold, ["a", "b"], False)["warning"] is None
    # invalid LLM answers are counted apart, never as a class
    inv = collapse.distribution(["a", "b"], ["a", None], ["a", "b"], False)
    assert inv["invalid"] == 1 and "never predicts 'b'" in inv["warning"]
    multi = collapse.distribution([["a"], ["b", "c"]], [["a", "b"], ["b"]], labels, True)
    assert multi["predicted"] == {"a": 1, "b": 2, "c": 0} and "never predicts 'c'" in multi["warning"]


@pytest.fixture()
def majority_store(tmp_path, monkeypatch, rt_small):
    """Its own store holding rt_small and one majority run (a second of work)."""
    store = quiet_store(tmp_path, monkeypatch, rt_small, "collapse")
    return store, majority_run(store, "always the majority")


def test_majority_run_is_flagged_in_metrics_and_cli(majority_store, rt_small, capsys):
    from pipelines.cli import main

    store, run = majority_store
    metrics = RunFolder(run["path"]).read_metrics()
    dist = metrics["prediction_distribution"]
    gold = rt_small.test["label"].value_counts()
    assert dist["gold"] == {lab: int(gold.get(lab, 0)) for lab in rt_small.labels}
    top = gold.idxmax()
    assert dist["predicted"][top] == len(rt_small.test) and dist["warning"]
    # a run folder from before the finish step recorded it: the same fact from predictions.parquet
    del metrics["prediction_distribution"]
    assert collapse.for_run(run["path"], metrics) == dist

    assert main(["compare", "--dataset", "rt_small"]) == 0
    out = capsys.readouterr().out
    assert "warning: always the majority: Collapsed predictions" in out
    share = f"{top} 100%"
    assert "predicted: " in out and share in out and "gold: " in out
    assert main(["runs", "show", run["id"]]) == 0
    out = capsys.readouterr().out
    assert "warning: Collapsed predictions" in out and "predicted: " in out and share in out


@pytest.mark.slow
def test_home_and_compare_show_the_warning(majority_store):
    from streamlit.testing.v1 import AppTest

    store, run = majority_store
    dist = collapse.for_run(run["path"])
    at = AppTest.from_file(str(ENTRY), default_timeout=120)
    at.query_params.update({"dataset": "rt_small"})
    at.run()
    for page in (None, "views/compare.py"):
        if page:
            at.switch_page(page)
            at.query_params.update({"dataset": "rt_small"})
            at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown = [str(w.value) for w in at.warning if "Collapsed predictions" in str(w.value)]
        assert shown, (page, [str(w.value) for w in at.warning])
        assert "always the majority" in shown[0] and collapse.shares_text(dist) in shown[0]
