"""Real fine-tunes (MiniLM, HF Trainer, peft, CodeCarbon) on tiny subsets, checked end to end."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest

from pipelines import runs
from pipelines.store import Store
from tests.fixtures_runs import TINY_FULL

pytestmark = pytest.mark.slow


def _folder(run_id: str):
    return runs.run_dir(run_id)


def _majority(ds) -> float:
    return float(ds.test["label"].value_counts(normalize=True).max())


def _plain_predict(model, tokenizer, texts, multi_label=False) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), 16):
            enc = tokenizer(texts[i:i + 16], truncation=True, max_length=64, padding=True, return_tensors="pt")
            logits = model(**enc).logits
            out.append((torch.sigmoid(logits) if multi_label else torch.softmax(logits, -1)).numpy())
    return np.concatenate(out)


def test_full_run_beats_majority_and_reloads_with_plain_transformers(minilm_full_run, rt_small):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = _folder(minilm_full_run)
    m = runs.read_json(folder / "metrics.json")
    assert m["accuracy"] >= _majority(rt_small) + 0.10, (m["accuracy"], _majority(rt_small))
    assert m["n"] == len(rt_small.test)
    # metrics.json layout (docs/architecture.md): metrics + train + model + speed + emissions
    tr = m["train"]
    assert tr["train_samples_per_s"] > 0 and tr["epochs_run"] == pytest.approx(1.0)
    assert tr["max_length"] == 64 and tr["learning_rate"] == TINY_FULL["learning_rate"] and tr["best_step"] is not None
    assert 0 < tr["best_val_macro_f1"] <= 1 and tr["stopped_early"] is False
    assert m["model"]["total_params"] == m["model"]["trainable_params"] > 20_000_000
    assert 80 < m["model"]["size_mb"] < 100  # MiniLM fp32 safetensors
    assert m["speed"]["latency_ms"] > 0 and m["speed"]["throughput"] > 0
    phases = m["emissions"]["phases"]
    assert [p["phase"] for p in phases] == ["train", "eval"] and all(p["measured"] for p in phases)
    assert m["emissions"]["total_energy_kwh"] > 0 and phases[0]["cpu_method"]
    csv = pd.read_csv(folder / "emissions.csv")
    assert list(csv["project_name"]) == ["train", "eval"]
    assert not (folder / "checkpoints").exists()
    cfg = runs.read_json(folder / "config.json")
    assert cfg["kind"] == "finetune" and cfg["dataset"]["split_hash"] == rt_small.split_hash
    row = Store().run(minilm_full_run)
    assert row["summary"]["accuracy"] == pytest.approx(m["accuracy"])

    # plain transformers reload reproduces the saved test predictions
    pred = runs.load_predictions(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder / "model")
    tok = AutoTokenizer.from_pretrained(folder / "model")
    assert model.config.id2label == {0: "fresh", 1: "rotten"} or list(model.config.id2label.values()) == rt_small.labels
    proba = _plain_predict(model, tok, pred["text"].tolist())
    saved = runs.proba_from_predictions(pred, rt_small.labels)
    np.testing.assert_allclose(proba, saved, atol=1e-4)
    assert [rt_small.labels[i] for i in proba.argmax(1)] == pred["pred"].tolist()
    assert pred["correct"].mean() == pytest.approx(m["accuracy"])


def test_lora_run_reloads_with_plain_peft(minilm_lora_run, rt_small):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipelines.assets import resolve_model

    folder = _folder(minilm_lora_run)
    m = runs.read_json(folder / "metrics.json")
    assert m["accuracy"] > _majority(rt_small) + 0.05, m["accuracy"]
    assert m["model"]["trainable_params"] < 0.05 * m["model"]["total_params"]
    assert m["model"]["size_mb"] < 5  # adapter + head + tokenizer only
    adapter_cfg = json.loads((folder / "model" / "adapter_config.json").read_text())
    assert "classifier" in adapter_cfg["modules_to_save"]
    assert set(adapter_cfg["target_modules"]) == set(m["train"]["lora_target_modules"])

    base = AutoModelForSequenceClassification.from_pretrained(resolve_model("minilm"), num_labels=2)
    model = PeftModel.from_pretrained(base, folder / "model")
    tok = AutoTokenizer.from_pretrained(folder / "model")
    pred = runs.load_predictions(folder)
    proba = _plain_predict(model, tok, pred["text"].tolist())
    assert [rt_small.labels[i] for i in proba.argmax(1)] == pred["pred"].tolist()
    np.testing.assert_allclose(proba, runs.proba_from_predictions(pred, rt_small.labels), atol=1e-4)


def test_lora_on_a_checkpoint_without_pooler_trains_and_saves_it(rt_small, tmp_path):
    """A checkpoint that lacks weights outside the head (here MiniLM saved without its pooler,
    like many Hub ``BertModel``/``*ForMaskedLM`` files) gets them initialised at random on every
    load; frozen, a reloaded adapter would not reproduce its run. They are trained and saved."""
    from peft import PeftModel
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    from pipelines.assets import resolve_model
    from pipelines.jobs import run_now

    base_dir = tmp_path / "minilm-no-pooler"
    AutoModel.from_pretrained(resolve_model("minilm"), add_pooling_layer=False).save_pretrained(base_dir)
    AutoTokenizer.from_pretrained(resolve_model("minilm")).save_pretrained(base_dir)
    cfg = {**TINY_FULL, "model": str(base_dir), "method": "lora", "max_train_samples": 64, "max_eval_samples": 32,
           "learning_rate": 3e-3, "speed_samples": 0, "run_name": "no pooler"}
    job = run_now("finetune", cfg)
    assert job["status"] == "done", job["error"]
    folder = _folder(job["run_id"])
    m = runs.read_json(folder / "metrics.json")
    assert m["train"]["lora_also_trained"] == ["bert.pooler.dense"]
    adapter_cfg = json.loads((folder / "model" / "adapter_config.json").read_text())
    assert "bert.pooler.dense" in adapter_cfg["modules_to_save"]

    pred = runs.load_predictions(folder)
    saved = runs.proba_from_predictions(pred, rt_small.labels)
    for _ in range(2):  # each load draws a new random pooler before the adapter overwrites it
        base = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=2)
        model = PeftModel.from_pretrained(base, folder / "model")
        proba = _plain_predict(model, AutoTokenizer.from_pretrained(folder / "model"), pred["text"].tolist())
        np.testing.assert_allclose(proba, saved, atol=1e-4)


def test_multi_label_run_gives_per_label_metrics_and_thresholds(genres_small):
    from pipelines.jobs import run_now

    cfg = dict(dataset="genres_small", model="minilm", method="full", max_train_samples=300, max_eval_samples=100,
               max_length=24, epochs=1.0, learning_rate=5e-4, speed_samples=0, run_name="tiny genres")
    job = run_now("finetune", cfg)
    assert job["status"] == "done", job["error"]
    folder = _folder(job["run_id"])
    m = runs.read_json(folder / "metrics.json")
    labels = genres_small.labels
    assert m["multi_label"] and set(m["per_class"]) == set(labels)
    gold = genres_small.label_matrix(genres_small.test)
    assert [m["per_class"][lab]["support"] for lab in labels] == gold.sum(axis=0).tolist()
    for lab in labels:
        assert all(0.0 <= m["per_class"][lab][k] <= 1.0 for k in ("precision", "recall", "f1"))
    assert 0 <= m["subset_accuracy"] <= 1 and 0 <= m["hamming_loss"] <= 1
    side = runs.read_json(folder / "model" / "workbench.json")
    assert len(side["thresholds"]) == len(labels) and all(0 < t < 1 for t in side["thresholds"])
    assert m["thresholds"] == side["thresholds"]  # the test set was cut at the tuned thresholds
    # The thresholds are the F1-best ones for the validation rows they were tuned on: the
    # reloaded model's validation scores, in the split's own order, give the same cut-offs
    # (length-grouped evaluation reorders the Trainer's predictions; gold must follow).
    from pipelines.finetune import _subsample, load_predictor
    from pipelines.finetune_train import tune_thresholds

    val = _subsample(genres_small.validation, cfg["max_eval_samples"], 42, genres_small)
    val_proba = load_predictor(folder).predict_proba(val["text"].tolist())
    assert tune_thresholds(val_proba, genres_small.label_matrix(val)).tolist() == side["thresholds"]
    pred = runs.load_predictions(folder)
    proba = runs.proba_from_predictions(pred, labels)
    expect = [[lab for j, lab in enumerate(labels) if proba[r, j] >= side["thresholds"][j]] for r in range(len(pred))]
    assert [list(p) for p in pred["pred"]] == expect


def test_cancel_mid_training_keeps_partial_folder_and_no_run(rt_small):
    from pipelines.jobs import run_now

    store = Store()
    cfg = dict(dataset="rt_small", model="minilm", method="full", max_train_samples=900, max_eval_samples=50,
               max_length=64, epochs=3.0, run_name="to cancel")
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(run_now("finetune", cfg, Store())))
    t.start()
    deadline = time.monotonic() + 120
    job = None
    while time.monotonic() < deadline:
        running = [j for j in store.jobs(status="running") if j["config"].get("run_name") == "to cancel"]
        if running and (running[0].get("progress") or 0) > 0.06:
            job = running[0]
            store.request_cancel(job["id"])
            break
        time.sleep(0.5)
    t.join(timeout=120)
    assert job is not None and not t.is_alive()
    assert result["status"] == "cancelled"
    assert not [r for r in store.runs() if r["job_id"] == job["id"]]
    partial = runs.attempt_dir(job["id"], 1)
    assert (partial / "log.txt").exists() and not (partial / "checkpoints").exists()
    # the interrupted training phase was still closed and written by CodeCarbon
    assert list(pd.read_csv(partial / "emissions.csv")["project_name"]) == ["train"]


def test_cli_runs_queues_and_reports_errors(rt_small, capsys):
    from pipelines.cli import main

    tiny = ["--dataset", "rt_small", "--max-train-samples", "32", "--max-eval-samples", "16", "--max-length", "32",
            "--epochs", "1", "--speed-samples", "8", "--run-name", "cli tiny"]
    assert main(["finetune", *tiny]) == 0
    out = capsys.readouterr().out
    run_id = out.split("run ", 1)[1].split()[0]
    assert Store().run(run_id) is not None and "macro-F1" in out and "kWh" in out

    assert main(["finetune", *tiny, "--queue"]) == 0
    assert "queued job" in capsys.readouterr().out
    queued = [j for j in Store().jobs(status="queued") if j["config"]["run_name"] == "cli tiny"]
    assert len(queued) == 1
    Store().request_cancel(queued[0]["id"])  # leave no work behind for other tests' workers

    assert main(["finetune", "--dataset", "rt_small", "--epochs", "0"]) == 2
    assert "epochs must be > 0" in capsys.readouterr().err
    assert main(["finetune", *tiny, "--country-iso-code", "XX"]) == 2
    assert "unknown country_iso_code" in capsys.readouterr().err
    assert main(["finetune", "--dataset", "nope", "--queue"]) == 2
    assert "dataset 'nope' is not prepared" in capsys.readouterr().err

    # a failure inside the job: exit 1 and the error on one line
    assert main(["finetune", *tiny, "--method", "lora", "--lora-target-modules", "nope"]) == 1
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("error: job") and "failed" in line and "'nope'" in line


def test_multi_label_early_stopping_reads_tuned_thresholds_not_a_fixed_half():
    """A checkpoint that ranks every label perfectly but is never 0.5-confident must score high on the
    early-stopping criterion (movie_genres: 0.0 at every check stopped MiniLM after one epoch of three)."""
    from types import SimpleNamespace

    from pipelines.finetune_train import validation_metrics

    rng = np.random.default_rng(0)
    gold = (rng.random((200, 4)) < 0.2).astype(np.float32)
    logits = np.where(gold == 1, -0.5, -2.0) + rng.normal(0, 0.1, gold.shape)  # sigmoid ≈ 0.38 vs 0.12
    out = validation_metrics(True, 4)(SimpleNamespace(predictions=logits, label_ids=gold))
    assert out["macro_f1"] == pytest.approx(1.0) and out["accuracy"] == pytest.approx(1.0)
    noise = validation_metrics(True, 4)(SimpleNamespace(predictions=rng.normal(-2, 0.1, gold.shape), label_ids=gold))
    assert noise["macro_f1"] < 0.6  # a model that ranks nothing is not flattered by the tuning
