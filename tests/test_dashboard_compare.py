"""AppTest of the Compare and Export pages against real runs made by the pipeline.

The pages run as the app runs them: through ``dashboard/Home.py``'s ``st.navigation`` and
``at.switch_page``. AppTest has no plotly accessor, so charts are read from their JSON spec
(``at.get("plotly_chart")[i].proto.spec``), and no download contents (the bytes are tested in
tests/test_export.py through the functions the buttons call).
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from pipelines import paths

HOME = str(paths.REPO_ROOT / "dashboard" / "Home.py")
TIMEOUT = 180  # first runs import plotly/pandas/pyarrow


def _page(view: str, **query: str) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(f"views/{view}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titles(at: AppTest) -> list[str]:
    return [s["layout"]["title"]["text"] for s in _specs(at)]


def test_compare_page_one_row_per_run_and_every_chart(two_runs, other_split_run, store):
    at = _page("compare", dataset=two_runs.dataset_id)
    assert at.title[0].value == "Compare runs"
    split = store.run(two_runs.run_ids[0])["split_hash"]
    # runs of this dataset on its split (a copy of the same data under another name has the same split hash)
    on_split = {r["id"] for r in store.runs(dataset_id=two_runs.dataset_id, split_hash=split)}
    table = at.dataframe[0].value
    assert set(table.index) == on_split and len(table) == len(on_split)  # one row per run, nothing else
    assert other_split_run not in table.index
    assert {"Run", "Accuracy ± CI", "Macro-F1 ± CI", "Energy kWh", "CO2eq g", "ms/text", "texts/s", "Params M",
            "Size MB"} <= set(table.columns)
    assert table["Macro-F1 ± CI"].str.endswith("★").sum() >= 1 and table["Accuracy ± CI"].str.contains("±").all()
    # the charts of the two fine-tunes alone (other areas' tests add runs on rt_small that change the defaults)
    at = _page("compare", runs=",".join(two_runs.run_ids))
    titles = _titles(at)
    assert titles[0] == "Macro-F1 vs energy: Pareto frontier"
    for t in ("Per-class F1 on the test split", "Training curves", "Energy and CO2eq per run and phase"):
        assert t in titles
    assert any(t.startswith("Confusion matrices") for t in titles)
    assert any(t.startswith("Confusion difference") for t in titles)
    pareto = _specs(at)[0]
    assert any(tr.get("name") == "Pareto frontier" for tr in pareto["data"])
    assert "kWh" in pareto["layout"]["xaxis"]["title"]["text"]
    sig = " ".join(m.value for m in at.markdown)
    assert "McNemar" in sig and "Paired bootstrap" in sig and "at the 5% level" in sig
    assert not at.error


def test_compare_refuses_mixed_splits_from_the_url(two_runs, other_split_run):
    a = two_runs.run_ids[0]
    at = _page("compare", runs=f"{a},{other_split_run}")
    assert len(at.error) == 1
    msg = at.error[0].value
    assert msg.startswith("Refused: cannot compare runs on different test splits")
    assert a in msg and other_split_run in msg and "genres_small" in msg
    assert not at.get("plotly_chart") and not at.dataframe, "nothing is compared after a refusal"


def test_compare_refuses_a_mix_picked_in_the_multiselect(two_runs, other_split_run):
    at = _page("compare", dataset=two_runs.dataset_id)
    at.multiselect(key="compare_runs").set_value([two_runs.run_ids[0], other_split_run]).run()
    assert at.error and at.error[0].value.startswith("Refused:")
    assert at.query_params["runs"] == f"{two_runs.run_ids[0]},{other_split_run}", "the choice is in the URL"
    at.multiselect(key="compare_runs").set_value(list(two_runs.run_ids)).run()
    assert not at.error and set(at.dataframe[0].value.index) == set(two_runs.run_ids)


def test_compare_state_survives_a_reload(two_runs, other_split_run, genres_small):
    at = _page("compare", dataset=two_runs.dataset_id)
    at.selectbox(key="compare_dataset").set_value(genres_small.id).run()
    assert at.query_params["dataset"] == genres_small.id
    a, b = two_runs.run_ids
    # a reload = a new session with the URL's query parameters
    again = _page("compare", dataset=genres_small.id)
    shown = list(again.dataframe[0].value.index)  # other areas' tests may have added runs on genres_small
    assert other_split_run in shown and not {a, b} & set(shown)
    assert not any(t.startswith("Confusion") for t in _titles(again)), "multi-label runs have no confusion matrix"
    pair = _page("compare", dataset=two_runs.dataset_id, a=b, b=a)
    assert (pair.selectbox(key="cmp_a").value, pair.selectbox(key="cmp_b").value) == (b, a)
    explicit = _page("compare", runs=f"{a},{b}")
    assert explicit.multiselect(key="compare_runs").value == [a, b]
    assert set(explicit.dataframe[0].value.index) == {a, b}


def test_export_page_offers_every_download(two_runs):
    at = _page("export", dataset=two_runs.dataset_id)
    assert at.title[0].value == "Export" and not at.error
    buttons = [b.proto for b in at.get("download_button")]
    labels = [b.label for b in buttons]
    charts = [m.value for m in at.markdown if "-pareto_" in m.value or "-per_class_f1`" in m.value]
    assert len(charts) == 4  # three Pareto views and the per-class bars, each with its file name
    for fmt in ("PNG", "SVG", "PDF", "HTML"):  # 3 Pareto views, per-class, confusion, difference, curves, energy
        assert labels.count(fmt) == 8
    for name in ("Metrics CSV", "Metrics Markdown", "Metrics LaTeX", "Per-class F1 CSV"):
        assert name in labels
    assert "Download the comparison bundle (.zip)" in labels
    assert not at.get("plotly_chart"), "the export page renders no chart (bytes are made on click)"


@pytest.fixture()
def empty_workspace(tmp_path, monkeypatch):
    import streamlit as st

    # a second workspace in this process: start from cleared Streamlit caches and leave them cleared,
    # so no store read of the session's workspace leaks in or out
    st.cache_data.clear()
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    yield tmp_path
    st.cache_data.clear()


@pytest.mark.parametrize("view", ["compare", "export"])
def test_pages_explain_an_empty_store(view, empty_workspace):
    at = _page(view)
    assert "No runs yet" in at.info[0].value
    assert not at.get("plotly_chart") and not at.get("download_button")
