"""AppTest checks of the dashboard pages (Home, Data, Models, Runs, Playground, Errors).

They run the real entry point (``dashboard/Home.py`` with ``st.navigation``) against the
session workspace, which holds real runs made by the pipeline (the training area's tiny
MiniLM full and LoRA fine-tunes on ``rt_small``). Each test checks what the page must show,
computed independently from the store and the run folders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines import runs
from pipelines.store import Store
from tests.fixtures_data import quiet_store

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "dashboard" / "Home.py"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two(minilm_full_run, minilm_lora_run):
    store = Store()
    return [store.run(minilm_full_run), store.run(minilm_lora_run)]


@pytest.fixture(scope="module", autouse=True)
def _stop_service_after():
    """The Playground test starts a predictor service; don't leave it running after the module."""
    yield
    from dashboard import services

    services.stop_service(Store())


def app(page: str | None = None, **params: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ENTRY), default_timeout=120)
    at.query_params.update(params)
    at.run()
    if page:
        at.switch_page(page)
        at.query_params.update(params)  # as a link to the page would carry them
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def arr(v) -> list:
    """A plotly JSON array (plotly 7 writes numpy arrays as {"dtype", "bdata"} base64)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def test_no_torch_in_the_dashboard_process(two):
    """Render every page (and run a model search) in a fresh interpreter: torch/transformers/peft
    must never be imported by the dashboard process."""
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ENTRY)!r}, default_timeout=120).run()\n"
        f"for p in {sorted(v.stem for v in (ENTRY.parent / 'views').glob('*.py'))!r}:\n"  # every page there is
        "    at.switch_page(f'views/{p}.py').run()\n"
        "    assert not at.exception, (p, [e.value for e in at.exception])\n"
        "at.switch_page('views/models.py').run()\n"
        "at.selectbox(key='m_task').set_value('LLMs (to prompt)')\n"
        "at.button[0].click().run()\n"  # a catalog search reads safetensors/GGUF headers, no torch
        "assert at.dataframe and not at.exception\n"
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'ray') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_home_shows_runs_and_leaderboard(two):
    at = app(dataset="rt_small")
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Runs"]) == len(Store().runs())
    assert int(metrics["Datasets"]) == len(Store().datasets())
    board = at.dataframe[0].value
    names = {r["name"] for r in two}
    assert names <= set(board["run"])
    shown = board[board["run"].isin(names)]
    expected = sorted(two, key=lambda r: -r["summary"]["macro_f1"])
    assert shown["run"].tolist() == [r["name"] for r in expected]  # best macro-F1 first
    assert shown["macro-F1"].tolist() == pytest.approx([r["summary"]["macro_f1"] for r in expected])
    datasets = at.dataframe[1].value
    assert "rt_small" in set(datasets["id"])
    assert any(b.label == "Queue the demo" for b in at.button)


def _upload(at, name: str, content: bytes):
    at.file_uploader(key="upload_file").upload(name, content, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_data_rejects_a_bad_csv_with_the_pipelines_message(rt_small, tmp_path):
    from pipelines.data import DataError, DataSpec, load_examples

    bad = b"text,label\ngreat film,pos\n   ,neg\nawful,neg\nfine,pos\n"
    at = _upload(app("views/data.py", dataset="rt_small"), "bad_reviews.csv", bad)
    (tmp_path / "bad_reviews.csv").write_bytes(bad)
    with pytest.raises(DataError) as exc:
        load_examples(DataSpec(source=str(tmp_path / "bad_reviews.csv"), max_file_mb=50))
    assert str(exc.value) in texts(at.error)
    assert "row 2" in str(exc.value) or "rows 2" in str(exc.value)
    assert not [b for b in at.button if b.label.startswith("Save as")]


def test_data_upload_preview_balance_and_save(rt_small):
    rows = [("a lovely and warm film", "pos"), ("dull and far too long", "neg")] * 15
    csv = ("review,sentiment\n" + "\n".join(f"{t} {i},{y}" for i, (t, y) in enumerate(rows))).encode()
    at = _upload(app("views/data.py", dataset="rt_small"), "my_reviews.csv", csv)
    at.multiselect(key="up_text").set_value(["review"]).run()
    at.selectbox(key="up_lcol").set_value("sentiment").run()
    assert not at.error, texts(at.error)
    assert any("30 examples, 2 labels" in s for s in texts(at.success))
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert {tr["name"] for tr in spec["data"]} == {"train", "validation", "test"}
    assert sum(sum(arr(tr["y"])) for tr in spec["data"]) == 30  # class balance covers every example
    new_id = "my-reviews"  # the id pipelines.data derives from the file name
    save = next(b for b in at.button if b.label.startswith(f"Save as `{new_id}`"))
    save.click().run(timeout=300)
    assert not at.error, texts(at.error)
    ds = Store().dataset(new_id)
    assert ds and ds["labels"] == ["neg", "pos"] and ds["n_train"] + ds["n_validation"] + ds["n_test"] == 30
    assert at.query_params["dataset"] == new_id  # the new dataset became the current one


def test_data_explores_a_prepared_dataset(rt_small):
    at = app("views/data.py", dataset="rt_small")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Train"] == f"{rt_small.info['sizes']['train']:,}"
    assert metrics["Labels"] == str(len(rt_small.labels))
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    counts = {tr["name"]: dict(zip(arr(tr["x"]), arr(tr["y"]))) for tr in spec["data"]}
    assert counts["test"] == rt_small.test["label"].value_counts().to_dict()


@pytest.fixture()
def own_store(tmp_path, monkeypatch, rt_small):
    """A separate store holding rt_small and a registered live 'worker' (this process), so queued
    jobs stay queued: nothing else in the session may pick them up and train."""
    store = quiet_store(tmp_path, monkeypatch, rt_small, "runs-page")
    return store


def test_models_search_offline_and_shortlist(own_store):
    from pipelines.catalog import shortlist

    at = app("views/models.py", dataset="rt_small")
    at.button[0].click().run()  # the form's Search button
    assert not at.exception
    assert any("HF_HUB_OFFLINE" in s for s in texts(at.info))  # one clear line: why the catalog answered
    table = at.dataframe[0].value
    assert "sentence-transformers/all-MiniLM-L6-v2" in set(table["model"])
    at.multiselect(key="m_pick").set_value(["sentence-transformers/all-MiniLM-L6-v2"]).run()
    next(b for b in at.button if b.label == "Add to shortlist").click().run()
    ids = [c["id"] for c in shortlist("rt_small", own_store)]
    assert "sentence-transformers/all-MiniLM-L6-v2" in ids
    runs_page = app("views/runs.py", dataset="rt_small")
    options = runs_page.multiselect(key="finetune_models").options
    assert any("(shortlist)" in o for o in options)


def test_runs_queue_cancel_and_retry(own_store):
    at = app("views/runs.py", dataset="rt_small")
    at.text_input(key="finetune_max_train_samples").set_value("200")
    at.selectbox(key="finetune_method").set_value("lora").run()
    next(b for b in at.button if b.label == "Queue 1 finetune job").click().run()
    jobs = [j for j in own_store.jobs() if j["kind"] == "finetune"]
    assert len(jobs) == 1 and jobs[0]["status"] == "queued"
    reference = [j for j in own_store.jobs() if j["kind"] == "tfidf"]
    assert len(reference) == 1 and reference[0]["config"]["dataset"] == "rt_small", "the reference comes along"
    assert reference[0]["priority"] < jobs[0]["priority"], "and runs first"
    own_store.request_cancel(reference[0]["id"])
    cfg = jobs[0]["config"]
    assert (cfg["dataset"], cfg["method"], cfg["max_train_samples"], cfg["model"]) == ("rt_small", "lora", 200,
                                                                                       "minilm")
    assert cfg["lora_r"] == 8  # untouched fields keep the dataclass defaults
    assert any("Queued 1 finetune job" in s for s in texts(at.success))
    jid = jobs[0]["id"]
    at.button(key=f"cancel_{jid}").click().run()
    assert own_store.job(jid)["status"] == "cancelled"
    at.button(key=f"retry_{jid}").click().run()
    again = [j for j in own_store.jobs() if j["kind"] == "finetune"]
    assert len(again) == 1 and again[0]["status"] == "queued" and again[0]["config"] == cfg
    assert again[0]["attempt"] == 2, "retry queues the next attempt of the same job"
    own_store.request_cancel(again[0]["id"])


def test_runs_shows_live_progress_eta_metric_and_log(own_store):
    from dashboard import widgets

    jid = own_store.enqueue("finetune", {"dataset": "rt_small", "model": "minilm", "method": "full",
                                         "run_name": "live one"})
    own_store.claim(jid, pid=os.getpid())
    own_store.heartbeat(jid, progress=0.4, message="epoch 1/1")
    own_store.log_metric(jid, 10, "loss", 0.4321)
    own_store.log_metric(jid, 10, "eval_macro_f1", 0.7654)
    job = own_store.job(jid)
    log = widgets.work_dir(job) / "log.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("step 10 loss 0.4321\n")
    try:
        at = app("views/runs.py", dataset="rt_small")
        bars = [p for p in at.get("progress")]
        line = next(p.proto.text for p in bars if "live one" in p.proto.text)
        assert "40%" in line and "ETA" in line and "loss 0.4321" in line and "eval_macro_f1 0.7654" in line
        assert next(p.proto.value for p in bars if "live one" in p.proto.text) == 40
        assert any("step 10 loss 0.4321" in c.value for c in at.code)
        at.button(key=f"cancel_{jid}").click().run()
        assert own_store.job(jid)["cancel_requested"] == 1  # a running job is asked to stop
        assert any("cancelling" in c.value for c in at.caption)
    finally:
        own_store.finish(jid, "cancelled")
        log.unlink()


def test_playground_side_by_side_on_a_test_example(two):
    store = Store()
    preds = {r["id"]: runs.load_predictions(Path(r["path"])) for r in two}
    example = int(preds[two[0]["id"]]["id"].iloc[3])
    at = app("views/playground.py", dataset="rt_small", models=",".join(r["id"] for r in two),
             example=str(example))
    assert at.radio(key="pg_source").value == "Pick a test example"
    at.button(key="pg_go").click().run(timeout=300)
    assert not at.error, texts(at.error)
    gold = preds[two[0]["id"]].set_index("id").loc[example, "gold"]
    assert f"**Gold label:** `{gold}`" in texts(at.markdown)
    shown = [s for s in texts(at.markdown) if s.startswith("Prediction:")]
    assert len(shown) == 2
    for r, line in zip(two, shown):
        pred = preds[r["id"]].set_index("id").loc[example, "pred"]
        assert line.startswith(f"Prediction: `{pred}`")
        assert line.endswith("right]" if pred == gold else "wrong]")
    assert len([c for c in texts(at.caption) if " ms" in c]) == 2  # latency per model
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    bars = json.loads(charts[0].proto.spec)["data"][0]
    assert sum(arr(bars["x"])) == pytest.approx(1.0, abs=1e-6)  # probabilities per class
    same = len({preds[r["id"]].set_index("id").loc[example, "pred"] for r in two}) == 1
    assert (len(at.warning) == 0) == same  # disagreement highlighted exactly when they disagree
    # a reload (new session, no query params) shows the last answer again, from the store
    again = app("views/playground.py")
    assert len([s for s in texts(again.markdown) if s.startswith("Prediction:")]) == 2
    assert store.get("ui", "playground_last")["example"] == example


def test_data_token_histogram_through_the_service(rt_small):
    """The histogram's numbers come from the predictor service (the page never loads a tokenizer)."""
    from pipelines.data import token_lengths

    at = app("views/data.py", dataset="rt_small")
    at.selectbox(key="tok_split").set_value("test").run()
    at.button(key="tok_go").click().run(timeout=300)
    assert not at.error, texts(at.error)
    hist = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]
    expected = token_lengths(rt_small.test["text"].tolist(), "minilm")
    assert sorted(arr(hist["x"])) == sorted(expected.tolist())
    saved = Store().get("token_lengths", f"rt_small:{rt_small.split_hash}:test:minilm")
    assert saved["lengths"] == expected.tolist()  # kept in the store: a reload shows it without recomputing


def test_errors_lists_disagreements_and_filters(two):
    a, b = (runs.load_predictions(Path(r["path"])).set_index("id") for r in two)
    disagree = int((a["pred"] != b.loc[a.index, "pred"]).sum())
    all_wrong = int(((a["pred"] != a["gold"]) & (b.loc[a.index, "pred"] != a["gold"])).sum())
    any_wrong = int(((a["pred"] != a["gold"]) | (b.loc[a.index, "pred"] != a["gold"])).sum())
    at = app("views/errors.py", dataset="rt_small", models=",".join(r["id"] for r in two), errors_view="any_wrong")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test examples"] == f"{len(a):,}"
    assert metrics["Models disagree"] == f"{disagree:,}"
    assert metrics["All models wrong"] == f"{all_wrong:,}"
    table = at.dataframe[0].value
    assert len(table) == min(any_wrong, 500)
    names = [r["name"] for r in two]
    assert {f"{n} · p(gold)" for n in names} <= set(table.columns)
    row = table.iloc[0]
    assert row[f"{names[0]} · p(gold)"] == pytest.approx(a.loc[row["id"], "p::" + row["gold"]])
    at.multiselect(key="err_gold").set_value(["negative"]).run()
    filtered = at.dataframe[0].value
    assert set(filtered["gold"]) <= {"negative"}
    expected = int((((a["pred"] != a["gold"]) | (b.loc[a.index, "pred"] != a["gold"])) & (a["gold"] == "negative"))
                   .sum())
    assert len(filtered) == min(expected, 500)
    at.radio(key="err_view").set_value("disagree").run()
    assert len(at.dataframe) == (1 if disagree else 0)
    if disagree:
        assert at.dataframe[0].value["id"].isin(a.index[a["pred"] != b.loc[a.index, "pred"]]).all()


def test_pure_helpers_on_real_predictions(two):
    from dashboard import analysis

    preds = {r["id"]: runs.load_predictions(Path(r["path"])) for r in two}
    table = analysis.join_predictions(preds)
    assert len(table) == len(preds[two[0]["id"]])
    assert table["all_wrong"].sum() <= (table["n_wrong"] > 0).sum()
    with pytest.raises(ValueError, match="unknown view"):
        analysis.filter_examples(table, "nope")
    res = [{"run_id": "a", "pred": ["positive"]}, {"run_id": "b", "pred": ["negative"]}]
    summary = analysis.agreement(res, "negative")
    assert summary["disagree"] and summary["correct"] == {"a": False, "b": True}
    assert pd.api.types.is_bool_dtype(table["disagree"])


def test_runs_form_queues_a_sweep_and_the_queue_shows_the_holder(own_store):
    at = app("views/runs.py", dataset="rt_small")
    at.text_input(key="finetune_grid").set_value("learning_rate=1e-4,3e-4; method=full,lora").run()
    button = next(b for b in at.button if b.label == "Queue a sweep of 4 finetune jobs")
    button.click().run()
    jobs = [j for j in own_store.jobs() if j["kind"] == "finetune"]
    assert len(jobs) == 4 and len({j["sweep"] for j in jobs}) == 1 and jobs[0]["sweep"]
    assert {(j["config"]["learning_rate"], j["config"]["method"]) for j in jobs} == {
        (1e-4, "full"), (1e-4, "lora"), (3e-4, "full"), (3e-4, "lora")}
    # a job held by a worker on another machine shows who holds it, and is not failed under it
    held = jobs[-1]["id"]
    own_store.claim(held, worker_id="gpu-box:4242:1700000000", pid=4242)
    from dashboard import state

    state.refresh()  # as the queue's next tick after the page's cache expires
    at.run()
    assert any("held by gpu-box:4242:1700000000" in p.proto.text for p in at.get("progress"))
    assert own_store.job(held)["status"] == "running"
    for j in own_store.jobs():
        own_store.request_cancel(j["id"])
    at.text_input(key="finetune_grid").set_value("nope=1,2").run()
    assert any("has no field 'nope'" in s for s in texts(at.error))


def test_runs_form_offers_the_reference_baselines(own_store):
    at = app("views/runs.py", dataset="rt_small")
    at.radio(key="runs_kind").set_value("Reference baseline").run()
    assert len(at.selectbox(key="runs_baseline").options) == 3  # tfidf, probe, setfit (shown by display name)
    at.selectbox(key="runs_baseline").set_value("probe").run()
    next(b for b in at.button if b.label == "Queue 1 probe job").click().run()
    probe = [j for j in own_store.jobs() if j["kind"] == "probe"]
    assert len(probe) == 1 and probe[0]["config"]["model"] == "minilm" and probe[0]["config"]["dataset"] == "rt_small"
    for j in own_store.jobs():
        own_store.request_cancel(j["id"])
