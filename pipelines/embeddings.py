"""Sentence embeddings from a frozen encoder, and their cache per (model, split).

Pooling follows what the checkpoint declares: a sentence-transformers folder has
``modules.json`` naming a Pooling module (its ``config.json`` says mean, CLS or max) and
optionally a Normalize module; the bundled MiniLM and MPNet declare mean pooling + L2
normalisation, the pooling they were trained with. A plain transformers checkpoint gets
mean pooling over non-padding tokens, the usual default. The token limit is the
checkpoint's ``max_seq_length`` (256 for MiniLM, 384 for MPNet), as sentence-transformers
would use.

Cache: ``<model cache>/embeddings/<model>-<split hash>/{train,validation,test}.npy`` plus
``meta.json`` (encoder, pooling, limit). The split hash pins the texts, so the arrays can
never belong to other data; each file is written to a temporary name and renamed, so a
crashed job leaves no half-written array. A second probe on the same data (another C, class
weights, a learning curve) then costs only the regression. ``ENCODE_CALLS`` counts forward
passes over new texts in this process: the tests read it to show a cached run encodes nothing.

torch and transformers are imported inside functions (the dashboard imports the kinds).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import paths

log = logging.getLogger(__name__)

POOLINGS = ("mean", "cls", "max")
ENCODE_CALLS = 0  # encode() calls on at least one text, in this process


@dataclass(frozen=True)
class Pooling:
    """How token states become one vector: what the checkpoint declares unless overridden."""

    mode: str = "mean"
    normalize: bool = False
    max_length: int = 512


def declared_pooling(model_dir: str | Path) -> Pooling:
    """The pooling, normalisation and token limit a sentence-transformers folder declares (else mean/none/512)."""
    folder = Path(model_dir)
    mode, normalize, max_length = "mean", False, 512
    modules_file = folder / "modules.json"
    if modules_file.exists():
        for module in json.loads(modules_file.read_text()):
            kind = str(module.get("type", ""))
            if kind.endswith("Normalize"):
                normalize = True
            elif kind.endswith("Pooling"):
                cfg_file = folder / module.get("path", "") / "config.json"
                if cfg_file.exists():
                    mode = _pooling_mode(json.loads(cfg_file.read_text()))
    st_cfg = folder / "sentence_bert_config.json"
    if st_cfg.exists():
        max_length = int(json.loads(st_cfg.read_text()).get("max_seq_length") or max_length)
    return Pooling(mode, normalize, max_length)


def _pooling_mode(cfg: dict[str, Any]) -> str:
    if cfg.get("pooling_mode") in POOLINGS:  # newer sentence-transformers spell it once
        return str(cfg["pooling_mode"])
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    if cfg.get("pooling_mode_max_tokens"):
        return "max"
    if not (cfg.get("pooling_mode_mean_tokens") or cfg.get("pooling_mode_mean_sqrt_len_tokens")):
        log.warning("pooling config %s names no mode this workbench knows; using mean pooling", cfg)
    return "mean"


class Encoder:
    """A frozen transformers encoder with one pooling; loads its weights on first use."""

    def __init__(self, model_dir: str, pooling: Pooling, batch_size: int = 32):
        self.model_dir = model_dir
        self.pooling = pooling
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = "cpu"

    def _load(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self._model = AutoModel.from_pretrained(self.model_dir).to(self.device).eval()

    def encode(self, texts: Sequence[str], progress: Callable[[float], None] | None = None) -> np.ndarray:
        """float32 n × dim; texts sorted by length so each batch pads only to its own longest."""
        global ENCODE_CALLS
        import torch

        texts = [str(t) for t in texts]
        if self._model is None:
            self._load()
        dim = int(self._model.config.hidden_size)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        if not texts:
            return out
        ENCODE_CALLS += 1
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                enc = self._tokenizer([texts[i] for i in idx], truncation=True, padding=True,
                                      max_length=self.pooling.max_length, return_tensors="pt").to(self.device)
                states = self._model(**enc).last_hidden_state.float()
                out[idx] = _pool(states, enc["attention_mask"], self.pooling).cpu().numpy()
                if progress:
                    progress(min(1.0, (start + len(idx)) / len(order)))
        return out


def _pool(states: Any, mask: Any, pooling: Pooling) -> Any:
    import torch

    m = mask.unsqueeze(-1).to(states.dtype)
    if pooling.mode == "cls":
        vec = states[:, 0]
    elif pooling.mode == "max":
        vec = states.masked_fill(m == 0, torch.finfo(states.dtype).min).max(dim=1).values
    else:
        vec = (states * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(vec, p=2, dim=-1) if pooling.normalize else vec


def checkpoint_params(model_dir: str | Path) -> int | None:
    """Parameter count from the safetensors headers (JSON; no weights loaded); None without safetensors."""
    files = sorted(Path(model_dir).glob("*.safetensors")) if Path(model_dir).is_dir() else []
    if not files:
        return None
    total = 0
    for file in files:
        with file.open("rb") as fh:
            header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
        total += sum(int(np.prod(t["shape"])) for name, t in header.items() if name != "__metadata__")
    return total


def cache_dir(model: str, model_dir: str, split_hash: str) -> Path:
    """``embeddings/<model>-<split hash>``; a path or Hub id becomes a readable name + a short hash."""
    if re.fullmatch(r"[A-Za-z0-9_.-]+", model) and "/" not in model:
        slug = model
    else:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model.rstrip("/")).name)[:40] or "model"
        slug = f"{base}.{hashlib.sha1(model_dir.encode()).hexdigest()[:8]}"
    return paths.model_cache_dir() / "embeddings" / f"{slug}-{split_hash}"


def split_embeddings(encoder: Encoder, folder: Path, split: str, texts: Sequence[str],
                     progress: Callable[[float], None] | None = None) -> tuple[np.ndarray, bool]:
    """(embeddings of one split, whether they came from the cache). Computed and saved when absent."""
    meta = {"model_dir": encoder.model_dir, **asdict(encoder.pooling)}
    meta_file, array_file = folder / "meta.json", folder / f"{split}.npy"
    if meta_file.exists() and json.loads(meta_file.read_text()) != meta:
        log.info("embedding cache %s was made with other settings: recomputing it", folder)
        for old in folder.glob("*.npy"):
            old.unlink()
    if array_file.exists():
        cached = np.load(array_file)
        if cached.shape[0] == len(texts):
            log.info("reusing cached %s embeddings (%d texts) from %s", split, len(texts), folder)
            return cached, True
    log.info("encoding %d %s texts with %s (%s pooling)", len(texts), split, encoder.model_dir, encoder.pooling.mode)
    arr = encoder.encode(texts, progress)
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(meta_file, lambda fh: fh.write(json.dumps(meta, indent=2).encode()))
    _atomic_write(array_file, lambda fh: np.save(fh, arr))
    return arr, False


def _atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        write(fh)
    os.replace(tmp, path)
