"""The Predict page's pieces that are not drawing: keeping the upload, building the download.

Kept out of the page script so tests call the very function whose bytes the download
button offers. No model loads here: predictions come from the predictor service.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd

from dashboard import services
from pipelines import paths
from pipelines import predict_file as pf


def stored_upload(name: str, data: bytes) -> Path:
    """The upload kept under data/uploads/predict/, named by its content hash (never replacing a file)."""
    folder = paths.uploads_dir() / "predict"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).name).strip("._") or "texts.csv"
    target = folder / f"{hashlib.sha256(data).hexdigest()[:10]}-{safe}"
    if not target.exists():
        target.write_bytes(data)
    return target


def result_bytes(store, run_id: str, frame: pd.DataFrame, column: str) -> bytes:
    """The download for a small file: the service's answers for every non-empty text, as CSV bytes.

    The service takes at most ``serve.MAX_TEXTS`` texts a request, so they go in slices.
    """
    from pipelines.serve import MAX_TEXTS

    texts = pf.texts_of(frame, column)
    keep = pf.kept(texts)
    todo = [t for t, k in zip(texts, keep) if k]
    merged: dict = {"labels": [], "proba": [], "pred": [], "multi_label": False}
    for start in range(0, len(todo), MAX_TEXTS):
        answer = services.predict(store, [run_id], todo[start:start + MAX_TEXTS])
        if answer.get("errors"):
            raise services.ServiceError("; ".join(answer["errors"].values()))
        res = answer["results"][0]
        merged.update(labels=res["labels"], multi_label=res.get("multi_label", False))
        merged["proba"] += res["proba"]
        merged["pred"] += res["pred"]
    if not todo:
        raise ValueError(f"column {column!r} holds no text to predict")
    return pf.csv_bytes(pf.from_service(frame, merged, keep))
