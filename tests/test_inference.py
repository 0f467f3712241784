"""Fast inference: the ONNX Runtime backend against plain torch, and CPU threads per job.

The encoder runs are the session's shared fixtures (``minilm_full_run``, ``minilm_lora_run``):
their jobs exported and checked the ONNX model themselves, so these tests only reload.
The thread tests drive the test-only ``majority`` kind through a real worker and job process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from pipelines import onnx_backend, onnx_guard, paths, runs, threads
from pipelines.finetune import EncoderPredictor, load_predictor
from pipelines.jobs import submit
from pipelines.runfolder import RunFolder

# empty and empty-after-strip, truncated, non-Latin scripts, emoji, and ordinary reviews
TEXTS = ["", "   \t\n ", "great", "word " * 700, "Это был очень хороший фильм, но конец слабый.",
         "映画はとても良かった。", "عرض رائع حقا", "🎬🍿😀👍", "a dull, lifeless mess 😴",
         "an utterly charming film with a terrific cast", "Un film très émouvant.", "meh."] * 3


@pytest.fixture(params=["full", "lora"])
def encoder_run(request, minilm_full_run, minilm_lora_run) -> str:
    return {"full": minilm_full_run, "lora": minilm_lora_run}[request.param]


def test_onnx_matches_torch_on_awkward_texts(encoder_run):
    run_dir = runs.run_dir(encoder_run)
    fast = load_predictor(run_dir, backend="onnx")  # the job's checked export
    assert fast.backend == "onnx-fp32"
    assert onnx_backend.find_export(run_dir).parent == onnx_backend.onnx_dir(encoder_run)
    assert not list(run_dir.rglob("*.onnx"))  # the finished run folder is never written to
    plain = load_predictor(run_dir, backend="torch")
    assert isinstance(plain, EncoderPredictor)
    a, b = plain.predict_proba(TEXTS), fast.predict_proba(TEXTS)
    assert (a.argmax(1) == b.argmax(1)).all()
    assert np.abs(a - b).max() < 1e-5
    # dynamic axes and the attention mask: one text at a time (no padding) gives the same scores
    one = np.concatenate([fast.predict_proba([t]) for t in TEXTS[:12]])
    assert np.abs(one - b[:12]).max() < 1e-5


def test_run_metrics_name_the_backend_and_its_agreement(encoder_run):
    metrics = RunFolder(runs.run_dir(encoder_run)).read_metrics()
    inference = metrics["inference"]
    assert metrics["backend"] == inference["backend"] == "onnx-fp32"
    assert inference["onnx"]["agreement"] == 1.0 and inference["onnx"]["max_abs_diff"] < 1e-5
    assert inference["onnx"]["n"] >= 9
    int8 = inference["int8"]  # its own test metrics and agreement, measured on this run
    assert 0.0 <= int8["agreement_with_fp32"] <= 1.0 and int8["n"] == metrics["n"]
    assert 0.0 <= int8["accuracy"] <= 1.0 and int8["size_mb"] < inference["onnx"]["size_mb"]
    assert metrics["speed"]["backend"] == "onnx-fp32" and metrics["speed"]["threads"] >= 1
    phases = [p["phase"] for p in metrics["emissions"]["phases"]]
    assert phases == ["train", "eval"]  # export, check and int8 are part of what scoring cost
    # the saved predictions are what the served backend gives
    saved = runs.proba_from_predictions(runs.load_predictions(runs.run_dir(encoder_run)), metrics["labels"])
    texts = runs.load_predictions(runs.run_dir(encoder_run))["text"].tolist()[:40]
    scorer = load_predictor(runs.run_dir(encoder_run), backend="onnx")
    assert np.abs(scorer.predict_proba(texts) - saved[:40]).max() < 1e-6


def test_guarded_int8_is_measured_and_auto_serves_it_only_above_the_bar(encoder_run):
    """The guard's band, its own test metrics and agreement are in the run; auto follows the measured agreement."""
    run_dir = runs.run_dir(encoder_run)
    metrics = RunFolder(run_dir).read_metrics()
    guarded = metrics["inference"]["int8"]["guarded"]
    assert guarded["calibrated_on"] == "validation" and guarded["band"] > 0 and guarded["n"] == metrics["n"]
    assert 0.0 <= guarded["rescored_share"] <= 1.0 and 0.0 <= guarded["agreement_with_fp32"] <= 1.0
    assert guarded["serves"] == (guarded["agreement_with_fp32"] >= onnx_guard.MIN_AGREEMENT)
    manifest = onnx_backend.read_manifest(onnx_backend.onnx_dir(encoder_run))
    assert manifest["guard"]["band"] == guarded["band"]
    served = load_predictor(run_dir).backend
    assert served == (onnx_guard.BACKEND if guarded["serves"] else "onnx-fp32")


def test_the_guard_rescores_exactly_the_texts_near_a_decision(minilm_full_run):
    """band 1: every text re-scored, so fp32's scores; band 0: int8's; in between, by the int8 gap."""
    run_dir = runs.run_dir(minilm_full_run)
    guarded = load_predictor(run_dir, backend=onnx_guard.BACKEND)
    fp32, int8 = guarded.fp32.predict_proba(TEXTS), load_predictor(run_dir, backend="onnx-int8").predict_proba(TEXTS)
    guarded.band = 1.0
    assert np.abs(guarded.predict_proba(TEXTS) - fp32).max() < 1e-5 and guarded.rescored == len(TEXTS)
    guarded.band = 0.0
    assert np.abs(guarded.predict_proba(TEXTS) - int8).max() < 1e-6
    gap = np.abs(int8[:, 1] - int8[:, 0])
    guarded.band = float(np.median(gap)) / 2
    near = gap <= 2 * guarded.band
    out = guarded.predict_proba(TEXTS)
    assert 0 < near.sum() < len(TEXTS)
    assert np.abs(out[near] - fp32[near]).max() < 1e-5 and np.abs(out[~near] - int8[~near]).max() < 1e-6


def test_near_decision_rules():
    assert onnx_guard.near_decision(np.array([[0.52, 0.48], [0.9, 0.1]]), 0.05, False, None).tolist() == [True, False]
    assert onnx_guard.near_decision(np.array([[0.4, 0.35, 0.25]]), 0.02, False, None).tolist() == [False]
    assert onnx_guard.near_decision(np.array([[0.4, 0.35, 0.25]]), 0.03, False, None).tolist() == [True]
    multi = np.array([[0.9, 0.32], [0.9, 0.1]])  # the second label's threshold is 0.3
    assert onnx_guard.near_decision(multi, 0.05, True, np.array([0.5, 0.3])).tolist() == [True, False]
    assert onnx_guard.near_decision(np.zeros((0, 2)), 0.1, False, None).shape == (0,)
    assert onnx_guard.calibrate(np.array([[0.2, 0.8]]), np.array([[0.25, 0.75]])) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="at least one validation text"):
        onnx_guard.calibrate(np.zeros((0, 2)), np.zeros((0, 2)))


def test_int8_backend_is_chosen_explicitly(minilm_full_run, monkeypatch):
    monkeypatch.setenv(onnx_backend.BACKEND_ENV, "onnx-int8")
    p = load_predictor(runs.run_dir(minilm_full_run))
    assert p.backend == "onnx-int8" and p.predict_proba(TEXTS[:4]).shape == (4, 2)
    monkeypatch.setenv(onnx_backend.BACKEND_ENV, "fastest")
    with pytest.raises(ValueError, match="auto, torch, onnx, onnx-int8, onnx-int8-guarded"):
        load_predictor(runs.run_dir(minilm_full_run))


def test_an_export_of_other_weights_is_ignored(minilm_full_run, minilm_lora_run, tmp_path):
    """A cache entry is trusted only when its manifest fingerprints this run's model files."""
    full_export = onnx_backend.onnx_dir(minilm_full_run)
    lora_dir = runs.run_dir(minilm_lora_run)
    assert onnx_backend.find_export(lora_dir, folder=full_export) is None
    copy = tmp_path / "copy"
    shutil.copytree(full_export, copy)
    assert onnx_backend.find_export(runs.run_dir(minilm_full_run), folder=copy) is not None
    manifest = json.loads((copy / onnx_backend.MANIFEST).read_text())
    manifest["fingerprint"] = {k: [v[0] + 1, v[1]] for k, v in manifest["fingerprint"].items()}
    (copy / onnx_backend.MANIFEST).write_text(json.dumps(manifest))
    assert onnx_backend.find_export(runs.run_dir(minilm_full_run), folder=copy) is None


def test_prune_drops_exports_of_deleted_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MODEL_CACHE", str(tmp_path / "cache"))
    gone, kept = onnx_backend.onnx_dir("gone"), onnx_backend.onnx_dir("kept")
    for folder, run_dir in ((gone, tmp_path / "deleted-run"), (kept, tmp_path)):
        folder.mkdir(parents=True)
        (folder / onnx_backend.MANIFEST).write_text(json.dumps({"run_dir": str(run_dir)}))
    assert onnx_backend.prune() == ["gone"] and kept.is_dir() and not gone.exists()


# ------------------------------------------------------------------------------ threads
def test_thread_rule(store, monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    n = threads.cores()
    store.delete(threads.KV, "service")
    assert threads.job_threads(store) == n and threads.service_concurrency(store) == n
    other = os.getppid()  # a live process that is not this one
    store.put(threads.KV, "service", {"pid": other, "last_request": time.time()})
    assert threads.job_threads(store) == max(1, n - threads.service_share(n))
    store.put(threads.KV, "service", {"pid": other, "last_request": 0})  # idle: the job takes every core
    assert threads.job_threads(store) == n
    store.put(threads.KV, f"job:{other}", {"pid": other})
    assert threads.service_concurrency(store) == threads.service_share(n)
    store.delete(threads.KV, f"job:{other}")
    monkeypatch.setenv(threads.ENV, "3")
    assert threads.job_threads(store) == 3 and threads.service_concurrency(store) == 3
    monkeypatch.setenv(threads.ENV, "lots")
    with pytest.raises(ValueError, match="positive whole number"):
        threads.setting()


@pytest.mark.parametrize("setting", ["1", "auto"])
def test_the_thread_setting_reaches_the_job_process(store, rt_small, setting):
    store.delete(threads.KV, "service")
    job_id = submit(store, "majority", {"dataset": rt_small.id, "speed_samples": 4})
    env = {**os.environ, threads.ENV: setting}
    code = ("import tests.kind_majority; from pipelines.worker import worker_loop; "
            "raise SystemExit(0 if worker_loop(once=True) >= 0 else 1)")
    subprocess.run([sys.executable, "-c", code], cwd=paths.REPO_ROOT, env=env, timeout=300, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    job = store.job(job_id)
    assert job["status"] == "done", job.get("error")
    speed = RunFolder(store.run(job["run_id"])["path"]).read_metrics()["speed"]
    assert speed["threads"] == (1 if setting == "1" else threads.cores())
    assert speed["cores"] == threads.cores()
    assert not [k for k in store.items(threads.KV) if k.startswith("job:")]  # the job process signed off
