"""Issue 11 items 7, 8 and 11: duration estimates before queueing, speed figures with the load they
were measured under (stars only between similar loads, re-measured figures kept in the kv), and
the small page and chart fixes (model cache under the home, control characters, recent jobs).

The speed tests re-measure a real TF-IDF run on ``rt_small`` through the CLI (seconds).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import cli, columns, estimate, kinds, paths, speed, tables
from pipelines.compare import load_comparison
from pipelines.jobs import run_now
from pipelines.store import Store


@pytest.fixture(scope="module")
def tfidf_run(rt_small) -> str:
    job = run_now("tfidf", {"dataset": rt_small.id, "speed_samples": 8, "run_name": "tfidf speed test"})
    assert job["status"] == "done", job["error"]
    return job["run_id"]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ item 8: load and stars
def test_a_speed_figure_records_the_load_and_its_contention_flag(tfidf_run):
    m = Store().run(tfidf_run)
    from pipelines.runfolder import RunFolder

    figures = RunFolder(m["path"]).read_metrics()["speed"]
    for key in ("load_1m", "load_5m", "cores", "own_cpu", "others_load", "contended", "band", "measured_at"):
        assert key in figures, key
    assert figures["cores"] == len(os.sched_getaffinity(0))
    assert figures["contended"] == (figures["others_load"] > speed.CONTENTION_RATIO * figures["cores"])
    assert figures["band"] == speed.band(figures["others_load"] / figures["cores"])


def _frame(latency: list[float], bands: list[str | None]) -> pd.DataFrame:
    ids = [f"r{i}" for i in range(len(latency))]
    return pd.DataFrame({"run_id": ids, "label": [f"run {i}" for i in range(len(latency))], "latency_ms": latency,
                         "throughput": [1000 / v for v in latency], "macro_f1": [0.7, 0.8, 0.6][: len(latency)],
                         "speed_band": bands}, index=ids)


def test_speed_stars_only_between_figures_of_similar_load():
    runs = _frame([100.0, 40.0, 10.0], ["quiet", "overloaded", None])
    best = tables.best_cells(runs)
    assert best["latency_ms"] == {"r0"} and best["throughput"] == {"r0"}, "the busy and unknown figures compete not"
    assert best["macro_f1"] == {"r1"}, "quality columns are untouched"
    note = tables.speed_note(runs)
    assert "run 1" in note and "run 2" in note and "measure-speed" in note
    assert "run 1" in tables.to_text(runs) and "similar load" in tables.to_markdown(runs)
    # all measured under the same load: the fastest wins, no footnote
    same = _frame([100.0, 40.0, 10.0], ["busy", "busy", "busy"])
    assert tables.best_cells(same)["latency_ms"] == {"r2"} and tables.speed_note(same) is None
    # runs from before loads were recorded: compared among themselves as before
    old = _frame([100.0, 40.0], [None, None])
    assert tables.best_cells(old)["latency_ms"] == {"r1"}
    assert [speed.band(x) for x in (0.1, 0.75, 0.76, 2.0, 2.5, None)] == \
        ["quiet", "quiet", "busy", "busy", "overloaded", None]


def test_measure_speed_writes_the_kv_never_the_run_folder(tfidf_run, capsys):
    store = Store()
    folder = Path(store.run(tfidf_run)["path"])
    before = _digest(folder)
    assert cli.main(["runs", "measure-speed", tfidf_run, "--now"]) == 0
    out = capsys.readouterr().out
    assert "ms/text" in out and "cores" in out and ("CONTENDED" in out or "uncontended" in out)
    assert _digest(folder) == before, "a finished run's files never change"
    items = store.get(speed.NAMESPACE, tfidf_run)["measurements"]
    assert len(items) == 1 and items[0]["latency_ms"] > 0 and items[0]["cores"] >= 1
    assert items[0]["latency_n"] == 8 and items[0]["throughput_n"] == 8, "the run's own plan"
    # the comparison prefers the newest uncontended figure: add one measured on a quiet machine
    quiet = {**items[0], "latency_ms": 0.123, "throughput": 4321.0, "others_load": 0.0, "contended": False,
             "band": "quiet", "measured_at": items[0]["measured_at"] + 1}
    speed.record(store, tfidf_run, quiet)
    comp = load_comparison(store, run_ids=[tfidf_run])
    row = comp.runs.loc[tfidf_run]
    assert row["latency_ms"] == pytest.approx(0.123) and row["throughput"] == pytest.approx(4321.0)
    assert row["speed_source"] == "re-measured" and row["speed_band"] == "quiet"
    # queued (the default): one job per run, a second ask while it waits adds none
    assert cli.main(["runs", "measure-speed", tfidf_run]) == 0
    assert cli.main(["runs", "measure-speed", tfidf_run]) == 0
    pending = [j for j in store.jobs(status="queued") if j["kind"] == "speed"]
    assert len(pending) == 1 and pending[0]["config"]["run_id"] == tfidf_run
    store.request_cancel(pending[0]["id"])
    assert cli.main(["runs", "measure-speed", "no-such-run"]) == 2


# ------------------------------------------------------------------ item 7: estimates
def test_estimates_fall_back_to_the_kind_cost_then_use_what_was_measured(rt_small, tfidf_run):
    store = Store()
    cfg = kinds.get("prompt").normalise({"dataset": rt_small.id, "model": "smollm2", "max_test_samples": 40})
    rough = estimate.estimate(store, "prompt", cfg, found=[])
    assert rough.basis == "rough" and rough.seconds == pytest.approx(kinds.get("prompt").cost(cfg))
    measured = estimate.estimate(store, "tfidf", kinds.get("tfidf").normalise({"dataset": rt_small.id}))
    assert measured.basis == "measured" and 0 < measured.seconds < 3600
    # prompt: 8 texts/s measured here on texts as long as these → the estimate and a cap under a target
    per_text = estimate.mean_tokens(estimate.dataset_info(rt_small.id), "test") + estimate.PROMPT_OVERHEAD_TOKENS
    found = [estimate.Sample("smollm2", "zero/label", None, 8.0 * per_text, 10.0)]
    full = kinds.get("prompt").normalise({"dataset": rt_small.id, "model": "smollm2"})
    est = estimate.estimate(store, "prompt", full, found=found)
    assert est.basis == "measured" and est.seconds == pytest.approx(10.0 + len(rt_small.test) / 8.0)
    # no model named: the estimate uses the LLM the job will derive (two classes: SmolLM2), not another one's rate
    derived = kinds.get("prompt").normalise({"dataset": rt_small.id})
    both = [*found, estimate.Sample("gemma3-270m", "zero/label", None, 2.0 * per_text, 10.0)]
    assert estimate.estimate(store, "prompt", derived, found=both).seconds == pytest.approx(est.seconds)
    capped = estimate.estimate(store, "prompt", full, target_s=12.0, found=found)
    assert capped.cap == {"max_test_samples": 16}
    again = estimate.estimate(store, "prompt", {**full, **capped.cap}, found=found)
    assert again.seconds <= 12.0


def test_finetune_estimate_scales_with_tokens_and_suggests_max_train_samples(rt_small):
    store = Store()
    found = [estimate.Sample("minilm", "full", 2000.0, 6000.0, 15.0)]
    base = kinds.get("finetune").normalise({"dataset": rt_small.id, "model": "minilm", "max_length": 16,
                                            "epochs": 1.0})
    longer = {**base, "max_length": 512}  # rt_small: ~28 tokens a text
    short, long_ = (estimate.estimate(store, "finetune", c, found=found) for c in (base, longer))
    assert short.basis == "measured" and long_.seconds > short.seconds, "longer texts cost more"
    twice = estimate.estimate(store, "finetune", {**base, "epochs": 2.0}, found=found)
    assert twice.seconds > short.seconds
    target = twice.seconds * 0.75
    cut = estimate.estimate(store, "finetune", {**base, "epochs": 2.0}, target_s=target, found=found)
    n = cut.cap["max_train_samples"]
    assert 50 <= n < len(rt_small.train)
    assert estimate.estimate(store, "finetune", {**base, "epochs": 2.0, "max_train_samples": n},
                             found=found).seconds <= target + 1e-6
    other = estimate.estimate(store, "finetune", {**base, "model": "mpnet"}, found=found)
    assert other.basis == "measured (other model)"
    assert estimate.words(75) == "75 s" and estimate.words(5400) == "1 h 30 min"


# ------------------------------------------------------------------ item 11: small fixes
def test_model_cache_follows_the_home_unless_named(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_MODEL_CACHE", raising=False)
    assert paths.model_cache_dir() == (tmp_path / "models" / "cache").resolve()
    monkeypatch.setenv("WORKBENCH_MODEL_CACHE", str(tmp_path / "elsewhere"))
    assert paths.model_cache_dir() == (tmp_path / "elsewhere").resolve()


def test_control_characters_are_shown_as_escapes():
    from dashboard.visible_text import has_controls, visible

    text = b"it\x92s \x93fine\x94\x85next".decode("latin-1") + "\tand\nline é"
    shown = visible(text)
    assert shown == "it\\x92s \\x93fine\\x94\\x85next\tand\nline é"
    assert has_controls(text) and not has_controls(shown)


def test_recently_finished_keeps_job_one_and_orders_by_finish_time():
    from dashboard.widgets import recently_finished

    rows = [{"id": i, "status": "done", "finished_at": 100.0 + (0 if i == 1 else i)} for i in range(7, 0, -1)]
    rows.append({"id": 8, "status": "running", "finished_at": None})
    assert [j["id"] for j in recently_finished(rows)] == [7, 6, 5, 4, 3, 2, 1]


def test_chart_labels_fit():
    from dashboard.charts import energy, pareto, quality

    assert pareto.short_label("2 2-shot/class label (classify)") == "2 2-shot/class label…"
    assert pareto.label_positions([3.0, 1.0, 2.0]) == ["top left", "top right", "bottom center"]
    runs = pd.DataFrame({"run_id": ["a", "b"], "label": ["2 2-shot/class label (classify)", "tfidf"],
                         "energy_kwh": [0.01, 0.001], "macro_f1": [0.8, 0.7], "size_mb": [10.0, 1.0]})
    fig = pareto.pareto_chart(runs)
    texts = [t for tr in fig.data if tr.text is not None for t in tr.text]
    assert max(len(t) for t in texts) <= pareto.LABEL_CHARS
    assert all(tr.cliponaxis is False for tr in fig.data if tr.mode and "text" in tr.mode)
    assert energy.tick_label("SmolLM2 zero-shot label (dataset) long") == "SmolLM2<br>zero-shot label…"
    cm = np.array([[5, 1], [2, 4]])
    fig = quality.confusion_difference(cm, cm[::-1], ["neg", "pos"], "A", "B")
    assert fig.data[0].colorbar.title.text == "B vs A" and fig.layout.margin.r >= 100
    assert columns.REGISTRY["latency_ms"].source[0] == "speed"
