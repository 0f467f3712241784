"""ONNX Runtime backend for fine-tuned encoders: export once per run, score faster, same answers.

Why: evaluation, the Playground and the predictor service all spend their time in encoder
forward passes. ONNX Runtime fuses the graph (attention, LayerNorm, GELU) and runs without
torch's per-op dispatch; see ``bench/RESULTS.md`` for the measured ratios.

Where the files live: ``<workspace>/models/cache/onnx/<run_id>/`` (``model.onnx``,
``model.int8.onnx`` when quantised, ``manifest.json``), never in the run folder, whose files
do not change once the run is done. A job exports into ``onnx/.staging/job-<id>-<pid>/``
and renames it to the run id when the run lands; exports of deleted runs are pruned then. The manifest holds a fingerprint of the run's
weight files (sizes and modification times): an export that does not match the run is
ignored, so a stale cache can never answer for a different model.

Export: ``torch.onnx.export`` (TorchScript exporter, opset 17) of the eager-attention model,
LoRA runs merged first; batch and sequence axes are dynamic and the attention mask is an
input, checked by :func:`check_export` on padded batches of different shapes.
Inference: the same length-sorted, dynamically padded batches as the torch predictor (only
``sort_window`` texts at a time are sorted together).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import paths, threads
from .predictor import EncoderBase

log = logging.getLogger(__name__)

OPSET = 17
FP32, INT8 = "model.onnx", "model.int8.onnx"
INT8_SCHEME = "dynamic int8, per-channel weights, MatMul/Gemm; pooler and classifier head fp32"
MANIFEST = "manifest.json"
BACKENDS = ("auto", "torch", "onnx", "onnx-int8", "onnx-int8-guarded")
BACKEND_ENV = "WORKBENCH_BACKEND"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json")


def onnx_root() -> Path:
    """Exports belong to a workspace's runs, so they live with the workspace (``models/cache/onnx``, the
    model cache's default place) even when ``WORKBENCH_MODEL_CACHE`` shares converted weights between
    workspaces: a test session or a throwaway workspace never leaves exports in a shared cache."""
    return paths.models_dir() / "cache" / "onnx"


def onnx_dir(run_id: str) -> Path:
    return onnx_root() / run_id


def staging_dir(job_id: int) -> Path:
    """Where a job exports before its run has an id; the pid keeps two workspaces sharing one cache apart."""
    return onnx_root() / ".staging" / f"job-{int(job_id)}-{os.getpid()}"


def fingerprint(model_folder: str | Path) -> dict[str, list[int]]:
    """Sizes and mtimes of a run's model files: cheap (no hashing of 90-440 MB), and survives the rename."""
    folder = Path(model_folder)
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(folder.iterdir())
            if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)}


def chosen_backend(backend: str | None = None) -> str:
    """The backend to load: the argument, else ``WORKBENCH_BACKEND``, else ``auto``."""
    name = (backend or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return name


def find_export(run_dir: str | Path, int8: bool = False, folder: Path | None = None) -> Path | None:
    """The verified ONNX file for a run folder, or None (not exported, or exported from other weights)."""
    run_dir = Path(run_dir)
    folder = folder or onnx_dir(run_dir.name)
    path = folder / (INT8 if int8 else FP32)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not path.exists() or manifest.get("fingerprint") != fingerprint(run_dir / "model"):
        if path.exists():
            log.warning("ignoring %s: it was exported from other weights than %s", path, run_dir)
        return None
    return path


def open_predictor(run_dir: str | Path, choice: str, args: tuple, folder: Path | None = None) -> Any:
    """The ONNX predictor ``choice`` names for a run, or None when its verified export is missing.

    ``auto``: the int8-with-fp32-guard backend (:mod:`pipelines.onnx_guard`) when the run measured
    it and its test agreement with fp32 reached the bar, else ONNX fp32. ``args``: tokenizer,
    labels, multi_label, thresholds, max_length.
    """
    from . import onnx_guard

    fp32 = find_export(run_dir, folder=folder)
    int8 = find_export(run_dir, int8=True, folder=folder) if fp32 is not None else None
    if choice in ("auto", onnx_guard.BACKEND) and int8 is not None:
        guard = read_manifest(int8.parent).get("guard")
        if guard and (choice != "auto" or onnx_guard.serves(guard)):
            return onnx_guard.load(fp32, int8, guard, args)
    path = {"auto": fp32, "onnx": fp32, "onnx-int8": int8}.get(choice)
    return None if path is None else OnnxEncoderPredictor(path, *args)


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def update_manifest(folder: Path, **fields: Any) -> None:
    """Add (or, with None, drop) manifest entries, e.g. the int8 guard the job measured."""
    manifest = {**read_manifest(folder), **fields}
    (folder / MANIFEST).write_text(json.dumps({k: v for k, v in manifest.items() if v is not None}, indent=1))


# ----------------------------------------------------------------------------- export
def export(model: Any, tokenizer: Any, folder: Path, model_folder: Path) -> Path:
    """Export a (merged) sequence-classification model to ``folder/model.onnx`` and write the manifest."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    model = model.eval().to("cpu")
    if hasattr(model, "set_attn_implementation"):  # sdpa traces to shape-specialised masks; eager stays dynamic
        model.set_attn_implementation("eager")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    sample = tokenizer(["a short text", "a second, somewhat longer text for the export"], padding=True,
                       return_tensors="pt")
    inputs = tuple(sample[n] for n in names)

    class Logits(torch.nn.Module):  # positional inputs in a fixed order, logits only
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(names, args))).logits

    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    path = folder / FP32
    t0 = time.perf_counter()
    with torch.inference_mode():
        # An eval-mode wrapper: the exporter restores the wrapper's mode afterwards, and a wrapper left
        # in training mode would switch the model's dropout back on for whoever uses it next.
        torch.onnx.export(Logits(model).eval(), inputs, str(path), input_names=names, output_names=["logits"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)
    log.info("exported %s in %.1f s (%.0f MB)", path, time.perf_counter() - t0, path.stat().st_size / 1e6)
    (folder / MANIFEST).write_text(json.dumps({"fingerprint": fingerprint(model_folder), "inputs": names,
                                               "opset": OPSET, "versions": _versions()}, indent=1))
    return path


def quantize(folder: Path) -> Path:
    """Dynamic int8 (:data:`INT8_SCHEME`): per-channel weights, MatMul/Gemm only.

    Per-channel scales keep each output unit's range; the pooler and classifier head are two
    small layers on one vector per text whose rounding moves the decision directly, so they
    stay fp32 at no measurable cost. Measured agreement with fp32 is recorded in each run,
    never assumed; see :mod:`pipelines.onnx_guard` for the variant that serves by default.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = folder / FP32, folder / INT8
    graph = onnx.load(str(src), load_external_data=False).graph
    keep = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm")
            and ("classifier" in n.name or "pooler" in n.name)]
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # the quantiser logs one INFO line per tensor to the root logger
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Gemm"], nodes_to_exclude=keep)
    finally:
        root.setLevel(level)
    update_manifest(folder, guard=None)  # a guard band belongs to the int8 file it was measured on
    return dst


def _versions() -> dict[str, str]:
    import onnxruntime
    import torch

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


# -------------------------------------------------------------------------- inference
def token_batches(tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int,
                  return_tensors: str) -> Iterator[tuple[list[int], Any]]:
    """Tokenize once, sort by token count, pad each batch to its own longest text.

    Sorting by *token* count (not characters) is what makes padding nearly free: on Rotten
    Tomatoes a 32-text batch then pads a few tokens instead of up to max_length.
    """
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)
    order = sorted(range(len(texts)), key=lambda i: len(ids["input_ids"][i]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        features = [{k: ids[k][i] for k in ids.keys()} for i in idx]
        yield idx, tokenizer.pad(features, padding=True, return_tensors=return_tensors)


def probabilities(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """softmax / sigmoid in float32 first (as torch does), so scores match the torch path to ~1e-7."""
    z = np.asarray(logits, dtype=np.float32)
    if multi_label:
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float64)


class OnnxEncoderPredictor(EncoderBase):
    """A fine-tuned encoder served by ONNX Runtime (fp32 or int8); same interface and batches as torch."""

    device = "cpu"
    sort_window = 1024  # evaluation hands this many texts per call, so sorting spans the whole window

    def __init__(self, path: str | Path, tokenizer: Any, labels: list[str], multi_label: bool,
                 thresholds: np.ndarray | None, max_length: int, batch_size: int = 32, n_threads: int | None = None):
        super().__init__(tokenizer, labels, multi_label, thresholds, max_length, batch_size)
        self.path = Path(path)
        self.backend = "onnx-int8" if self.path.name == INT8 else "onnx-fp32"
        self.n_threads = n_threads
        self._sessions: dict[int, Any] = {}
        self._session(self._threads())  # load now: a broken file fails at load, not at the first request

    def _threads(self) -> int:
        share = threads.job_share()
        if share is not None:
            return share.threads()
        return self.n_threads or threads.current()

    def _session(self, n: int) -> Any:
        if n not in self._sessions:
            import onnxruntime as ort

            self._sessions.clear()  # one live session: a changed share replaces it (rare, ~0.3 s for MiniLM)
            self._sessions[n] = ort.InferenceSession(str(self.path), threads.ort_session_options(n),
                                                     providers=["CPUExecutionProvider"])
        return self._sessions[n]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        if not texts:
            return out
        session = self._session(self._threads())
        names = [i.name for i in session.get_inputs()]
        for idx, enc in token_batches(self.tokenizer, texts, self.max_length, self.batch_size, "np"):
            feed = {n: np.asarray(enc[n], dtype=np.int64) for n in names}
            out[idx] = probabilities(session.run(["logits"], feed)[0], self.multi_label)
        return out


def check_export(torch_predictor: Any, onnx_predictor: OnnxEncoderPredictor, texts: Sequence[str],
                 atol: float = 1e-5) -> dict[str, Any]:
    """Score the same texts both ways: agreement of argmax, largest score difference."""
    a = np.asarray(torch_predictor.predict_proba(texts))
    b = np.asarray(onnx_predictor.predict_proba(texts))
    return compare(a, b, onnx_predictor.multi_label, atol)


def compare(reference: np.ndarray, other: np.ndarray, multi_label: bool, atol: float = 1e-5) -> dict[str, Any]:
    """Agreement (same argmax; for multi-label, same 0.5 decisions per cell) and max |difference|."""
    if multi_label:
        same = float(np.mean((reference >= 0.5) == (other >= 0.5))) if reference.size else 1.0
    else:
        same = float(np.mean(reference.argmax(1) == other.argmax(1))) if len(reference) else 1.0
    diff = float(np.max(np.abs(reference - other))) if reference.size else 0.0
    return {"agreement": same, "max_abs_diff": diff, "n": int(len(reference)), "within_atol": diff <= atol,
            "atol": atol}


def land(staging: Path, run_id: str, run_dir: Path) -> Path | None:
    """Move a job's export to ``onnx/<run_id>`` once the run has its id (None if there was nothing).

    The manifest then records the run folder, so :func:`prune` can drop exports of runs whose
    folder is gone (a run deleted or moved by hand, not through ``runs delete``).
    """
    if not staging.is_dir():
        return None
    target = onnx_dir(run_id)
    try:
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(target)
        manifest = json.loads((target / MANIFEST).read_text())
        (target / MANIFEST).write_text(json.dumps({**manifest, "run_dir": str(Path(run_dir).resolve())}, indent=1))
        prune()
    except (OSError, ValueError) as exc:  # the run has landed; without its export it is served by torch
        log.warning("could not move the ONNX export to %s: %s", target, exc)
        return None
    return target


def prune(stale_staging_s: float = 86_400.0) -> list[str]:
    """Delete exports whose run folder is gone, and staging folders a crashed job left a day ago."""
    removed = []
    for folder in onnx_root().glob("*"):
        try:
            run_dir = json.loads((folder / MANIFEST).read_text()).get("run_dir")
        except (OSError, ValueError):
            continue
        if run_dir and not Path(run_dir).is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    for folder in (onnx_root() / ".staging").glob("job-*"):
        if time.time() - folder.stat().st_mtime > stale_staging_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    if removed:
        log.info("pruned ONNX exports of deleted runs: %s", ", ".join(removed))
    return removed
