"""The fine-tune job's scoring step: export to ONNX, check it, score with it, measure int8.

Why here and not at load time: the run's metrics must say which backend produced them and
how far the fast path agrees with torch, measured on this run's own model, never assumed.
So the job, inside its ``eval`` energy phase (all of this is what scoring the run cost; the
block records how long each step took):

1. reload the saved model in torch (a LoRA adapter merged), export it to
   ``onnx/.staging/job-<id>-<pid>/model.onnx`` and score :data:`CHECK_TEXTS` plus up to
   :data:`CHECK_N` test texts both ways. ONNX becomes the run's backend only when every
   argmax agrees and every score is within 1e-5 (measured: 6e-8 to 2e-7 for MiniLM);
   otherwise the run is scored in torch and the block says why;
2. the chosen backend scores the test split (the run's metrics);
3. with ``WORKBENCH_ONNX=int8`` (the default): dynamic int8 quantisation, its own test
   metrics, its agreement with fp32 and its speed, recorded under ``inference.int8``; then
   int8 with an fp32 guard (:mod:`pipelines.onnx_guard`): its error band calibrated on up to
   :data:`CALIBRATION_N` validation texts, its own test metrics, agreement with fp32 and share
   of texts re-scored, under ``inference.int8.guarded`` and in the export's manifest (what
   ``auto`` serves by).

``WORKBENCH_ONNX=fp32`` skips int8, ``off`` skips the export (torch only). The export is moved
to ``onnx/<run_id>`` when the run lands (:func:`pipelines.onnx_backend.land`).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import onnx_backend, onnx_guard
from .evaluate import measure_speed, predict_batched
from .metrics import compute_metrics

log = logging.getLogger(__name__)

ONNX_ENV = "WORKBENCH_ONNX"
CHECK_N = 256  # test texts scored twice (torch and ONNX): ~2 s for MiniLM on 2 cores
CALIBRATION_N = 1000  # validation texts scored in fp32 and int8 for the guard band: ~4 s for MiniLM
# Inputs where an export typically breaks: nothing after the special tokens, truncation,
# scripts and symbols outside the training data, padding next to a long text.
CHECK_TEXTS = ["", "   ", "ok", "word " * 600, "Это был очень хороший фильм.", "映画はとても良かった。",
               "🎬🍿😀 loved it 👍", "عرض رائع حقا", "Un film très émouvant, bien joué."]


def mode() -> str:
    value = os.environ.get(ONNX_ENV, "int8").strip().lower()
    if value not in ("int8", "fp32", "off"):
        raise ValueError(f"{ONNX_ENV}={value!r}: choose int8 (default), fp32 or off")
    return value


def score_test(ctx: Any, cfg: Any, ds: Any, work: Path, load_predictor: Any,
               speed_n: int = 0) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Export + check, score the test split, measure int8: one ``eval`` energy phase.

    Returns the predictor that scored (for the speed figures), the test probabilities and the
    ``inference`` block for metrics.json.
    """
    from .jobs import Cancelled

    how = mode()
    staging = onnx_backend.staging_dir(ctx.job_id)
    shutil.rmtree(staging, ignore_errors=True)
    with ctx.track("eval", cfg.country_iso_code, cfg.cpu_power_watts):
        torch_pred = load_predictor(work, backend="torch")
        predictor, block = torch_pred, {"backend": "torch", "onnx": None, "int8": None}
        texts = ds.test["text"].tolist()
        if how != "off":
            predictor = _fast(ctx, torch_pred, staging, work, texts, load_predictor, block)
        del torch_pred  # the torch copy's memory, before the test split is scored
        t0 = time.perf_counter()
        proba = predict_batched(predictor, texts, batch_size=cfg.eval_batch_size, progress=lambda f: ctx.progress(
            0.87 + 0.06 * f, f"scoring the test split ({block['backend']})"))
        block["test_scoring_s"] = round(time.perf_counter() - t0, 2)
        if how == "int8" and predictor.backend == "onnx-fp32":
            try:
                ctx.progress(0.93, "measuring ONNX int8")
                block["int8"] = _int8(predictor, proba, ds, staging, speed_n)
            except Cancelled:
                raise
            except Exception as exc:
                log.warning("int8 quantisation failed: %s", exc)
                block["int8"] = {"error": f"{type(exc).__name__}: {exc}"}
    return predictor, proba, block


def _fast(ctx: Any, torch_pred: Any, staging: Path, work: Path, texts: list[str], load_predictor: Any,
          block: dict[str, Any]) -> Any:
    """The ONNX fp32 predictor when its export matches torch; torch (and the reason in ``block``) otherwise."""
    from .jobs import Cancelled

    try:
        ctx.progress(0.85, "exporting to ONNX")
        fp32, check = _export_and_check(torch_pred, staging, work, texts, load_predictor)
    except Cancelled:
        raise
    except Exception as exc:  # a model the exporter cannot trace still gets a torch-scored run
        log.warning("ONNX export failed, scoring in torch: %s", exc)
        block["onnx"] = {"error": f"{type(exc).__name__}: {exc}"}
        return torch_pred
    block["onnx"] = check
    if check["agreement"] == 1.0 and check["within_atol"]:
        block["backend"] = fp32.backend
        return fp32
    log.warning("ONNX export disagrees with torch (%s); this run is scored in torch", check)
    return torch_pred


def _export_and_check(torch_pred: Any, staging: Path, work: Path, texts: list[str],
                      load_predictor: Any) -> tuple[Any, dict[str, Any]]:
    t0 = time.perf_counter()
    onnx_backend.export(torch_pred.model, torch_pred.tokenizer, staging, work / "model")
    export_s = time.perf_counter() - t0
    fp32 = load_predictor(work, backend="onnx", onnx_folder=staging)
    sample = CHECK_TEXTS + texts[:CHECK_N]
    check = onnx_backend.check_export(torch_pred, fp32, sample)
    return fp32, {**check, "against": "torch", "export_s": round(export_s, 2),
                  "size_mb": round((staging / onnx_backend.FP32).stat().st_size / 1e6, 1)}


def _int8(fp32: Any, fp32_proba: np.ndarray, ds: Any, staging: Path, speed_n: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    path = onnx_backend.quantize(staging)
    quantize_s = time.perf_counter() - t0
    int8 = onnx_backend.OnnxEncoderPredictor(path, fp32.tokenizer, fp32.labels, fp32.multi_label, fp32.thresholds,
                                             fp32.max_length)
    texts = ds.test["text"].tolist()
    proba = predict_batched(int8, texts, batch_size=fp32.sort_window)
    out = {**_metrics(ds, proba, fp32, fp32_proba), "quantize_s": round(quantize_s, 2),
           "size_mb": round(path.stat().st_size / 1e6, 1), "scheme": onnx_backend.INT8_SCHEME}
    if speed_n:
        out["speed"] = measure_speed(int8, texts, n_latency=min(20, speed_n), n_throughput=speed_n)
    out["guarded"] = measure_guarded(fp32, int8, fp32_proba, ds, staging, speed_n)
    return out


def _metrics(ds: Any, proba: np.ndarray, fp32: Any, fp32_proba: np.ndarray) -> dict[str, Any]:
    """A variant's own test metrics and its agreement with the fp32 scores."""
    m = compute_metrics(ds.gold(ds.test), proba, [str(x) for x in ds.labels], ds.multi_label,
                        thresholds=fp32.thresholds)
    vs = onnx_backend.compare(fp32_proba, proba, ds.multi_label)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "accuracy_ci": m.get("accuracy_ci"),
            "macro_f1_ci": m.get("macro_f1_ci"), "n": m["n"],
            "agreement_with_fp32": vs["agreement"], "max_abs_diff_vs_fp32": vs["max_abs_diff"]}


def measure_guarded(fp32: Any, int8: Any, fp32_proba: np.ndarray, ds: Any, staging: Path,
                    speed_n: int = 0) -> dict[str, Any]:
    """Calibrate the guard band on validation texts, measure the guarded backend on the test split.

    The band and the measured test agreement go into the export's manifest: ``auto`` serves the
    guarded backend only when that agreement reaches :data:`pipelines.onnx_guard.MIN_AGREEMENT`.
    """
    val = ds.validation["text"].tolist()[:CALIBRATION_N]
    band = onnx_guard.calibrate(predict_batched(fp32, val, batch_size=fp32.sort_window),
                                predict_batched(int8, val, batch_size=fp32.sort_window))
    guarded = onnx_guard.GuardedPredictor(int8.path, fp32, band)
    t0 = time.perf_counter()
    proba = predict_batched(guarded, ds.test["text"].tolist(), batch_size=fp32.sort_window)
    out = {**_metrics(ds, proba, fp32, fp32_proba), "band": round(band, 6), "calibrated_on": "validation",
           "n_calibration": len(val), "rescored_share": round(guarded.rescored / max(1, guarded.scored), 4),
           "test_scoring_s": round(time.perf_counter() - t0, 2)}
    out["serves"] = onnx_guard.serves(out)
    onnx_backend.update_manifest(staging, guard={k: out[k] for k in ("band", "agreement_with_fp32", "n",
                                                                     "rescored_share", "serves")})
    if speed_n:
        out["speed"] = measure_speed(guarded, ds.test["text"].tolist(), n_latency=min(20, speed_n),
                                     n_throughput=speed_n)
    return out
