"""Chunked, resumable scoring of a prompt run's test texts (pipelines/prompting.py).

Each finished chunk is saved atomically under the job's work folder with the prompt's
fingerprint, so a cancelled or crashed job, retried with the same config, recomputes only the
chunks that were not finished, and chunks of another prompt or split are never reused.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class PromptOutput:
    proba: np.ndarray  # n × labels; NaN rows where the answer is invalid
    invalid: np.ndarray  # bool per text
    answers: list[str]  # generate: the last raw answer(s); label: the top-scoring answer word
    attempts: np.ndarray  # generations used per text (0 in label mode)


def _save_chunk(path: Path, out: PromptOutput) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, proba=out.proba, invalid=out.invalid, attempts=out.attempts,
                 answers=np.array(out.answers, dtype=str))
    os.replace(tmp, path)  # atomic: a crash mid-write never leaves a half chunk


def _load_chunk(path: Path) -> PromptOutput:
    with np.load(path) as z:
        return PromptOutput(z["proba"], z["invalid"], [str(a) for a in z["answers"]], z["attempts"])


def score_in_chunks(predictor: Any, texts: list[str], folder: Path, fingerprint: str, chunk_size: int,
                    progress: Callable[[float, str], None] | None = None) -> tuple[PromptOutput, dict[str, int]]:
    """Score texts chunk by chunk, persisting each finished chunk; reuse chunks already on disk."""
    cdir = folder / "chunks"
    stamp = cdir / "fingerprint.txt"
    if cdir.exists() and (not stamp.exists() or stamp.read_text().strip() != fingerprint):
        log.warning("saved chunks in %s belong to another prompt/split: recomputing", cdir)
        shutil.rmtree(cdir)
    cdir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")
    n_chunks = max(1, -(-len(texts) // chunk_size))
    parts, stats = [], {"chunks": n_chunks, "resumed_chunks": 0, "computed_chunks": 0}
    for c in range(n_chunks):
        path = cdir / f"{c:05d}.npz"
        chunk = texts[c * chunk_size:(c + 1) * chunk_size]
        if path.exists():
            out = _load_chunk(path)
            stats["resumed_chunks"] += 1
        else:
            out = predictor.predict_detailed(chunk)
            _save_chunk(path, out)
            stats["computed_chunks"] += 1
        parts.append(out)
        if progress is not None:
            done = min(len(texts), (c + 1) * chunk_size)
            progress((c + 1) / n_chunks, f"chunk {c + 1}/{n_chunks}: {done}/{len(texts)} texts")
    merged = PromptOutput(np.concatenate([p.proba for p in parts]), np.concatenate([p.invalid for p in parts]),
                          [a for p in parts for a in p.answers], np.concatenate([p.attempts for p in parts]))
    return merged, stats
