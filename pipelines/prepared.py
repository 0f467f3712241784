"""A prepared dataset on disk: the fixed, hashed split every run of it is compared on.

``data/prepared/<dataset_id>/``::

    train.parquet, validation.parquet, test.parquet   columns: id (int), text (str),
        label (str) for single-label, or labels (list[str]) for multi-label
    dataset.json   id, name, task, labels, sizes, split_hash, seed, ratios, source, stats,
                   description (str), label_descriptions ({label: text})

``split_hash`` is a content hash of (ids, texts, labels) of all three splits: two runs are
comparable exactly when their split hashes are equal. Everything that changes what a model
sees (encoding, HTML stripping, dropped rows) changes the texts or ids and so the hash; a
setting that changed no text leaves it equal, so runs stay comparable. The descriptions
are words *about* the data, read by prompt templates: they are outside the hash and can
be edited at any time (``set_descriptions``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import paths
from .data_errors import DataError, excerpt

SPLITS = ("train", "validation", "test")
SINGLE, MULTI = "single_label", "multi_label"
DESCRIPTION_FIELDS = ("description", "label_description")  # DataSpec fields outside the split


@dataclass
class PreparedDataset:
    info: dict[str, Any]
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    @property
    def id(self) -> str:
        return self.info["id"]

    @property
    def labels(self) -> list[str]:
        return list(self.info["labels"])

    @property
    def multi_label(self) -> bool:
        return self.info["task"] == MULTI

    @property
    def split_hash(self) -> str:
        return self.info["split_hash"]

    def split(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    def label_ids(self, df: pd.DataFrame) -> np.ndarray:
        """Single-label: int class index per row."""
        index = {lab: i for i, lab in enumerate(self.labels)}
        return df["label"].map(index).to_numpy(dtype=np.int64)

    def label_matrix(self, df: pd.DataFrame) -> np.ndarray:
        """n × n_labels 0/1 matrix (multi-label; one-hot for single-label)."""
        index = {lab: i for i, lab in enumerate(self.labels)}
        out = np.zeros((len(df), len(self.labels)), dtype=np.int64)
        if self.multi_label:
            for r, labs in enumerate(df["labels"]):
                for lab in labs:
                    out[r, index[lab]] = 1
        else:
            out[np.arange(len(df)), self.label_ids(df)] = 1
        return out

    def gold(self, df: pd.DataFrame) -> list:
        return [list(x) for x in df["labels"]] if self.multi_label else list(df["label"])


def dataset_dir(dataset_id: str) -> Path:
    return paths.prepared_dir() / dataset_id


def compute_split_hash(splits: dict[str, pd.DataFrame], multi_label: bool) -> str:
    h = hashlib.sha256()
    col = "labels" if multi_label else "label"
    for name in SPLITS:
        df = splits[name]
        h.update(name.encode())
        for i, t, y in zip(df["id"], df["text"], df[col]):
            y = "|".join(y) if multi_label else y
            h.update(f"{i}\x1f{t}\x1f{y}\x1e".encode())
    return h.hexdigest()[:16]


def save(dataset_id: str, splits: dict[str, pd.DataFrame], info: dict[str, Any]) -> dict[str, Any]:
    """Write the three splits + dataset.json (atomically: a temp folder renamed into place)."""
    folder = dataset_dir(dataset_id)
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():  # our own temp folder, left by a crash
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    multi = info["task"] == MULTI
    info = {**info, "id": dataset_id, "path": str(folder),
            "sizes": {s: int(len(splits[s])) for s in SPLITS},
            "split_hash": compute_split_hash(splits, multi)}
    try:
        for s in SPLITS:
            splits[s].reset_index(drop=True).to_parquet(tmp / f"{s}.parquet", index=False)
        (tmp / "dataset.json").write_text(json.dumps(info, indent=2, default=str))
    except BaseException:  # a full disk: no half-written folder left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if folder.exists():
        shutil.rmtree(folder)
    tmp.replace(folder)
    return info


def load(dataset_id: str) -> PreparedDataset:
    folder = dataset_dir(dataset_id)
    meta = folder / "dataset.json"
    if not meta.exists():
        known = sorted(p.name for p in paths.prepared_dir().glob("*") if (p / "dataset.json").exists())
        raise FileNotFoundError(
            f"dataset {dataset_id!r} is not prepared; run `python -m pipelines data prepare {dataset_id}`"
            + (f" (prepared: {', '.join(known)})" if known else ""))
    info = json.loads(meta.read_text())
    frames = {s: pd.read_parquet(folder / f"{s}.parquet") for s in SPLITS}
    if info["task"] == MULTI:
        for df in frames.values():
            df["labels"] = df["labels"].map(lambda v: [str(x) for x in v])
    return PreparedDataset(info=info, **frames)


def parse_label_descriptions(items: list[str]) -> dict[str, str]:
    """``["pos=a positive review", …]`` → ``{"pos": "a positive review"}`` (the CLI's LABEL=TEXT form)."""
    out: dict[str, str] = {}
    for item in items:
        label, eq, text = str(item).partition("=")
        if not eq or not label.strip():
            raise DataError(f"a label description is LABEL=TEXT (e.g. pos='a positive review'), got {excerpt(item)}")
        out[label.strip()] = text.strip()
    return out


def check_label_names(descriptions: dict[str, str], labels: set[str]) -> None:
    unknown = sorted(set(descriptions) - labels)
    if unknown:
        raise DataError(f"label description(s) for {', '.join(map(excerpt, unknown))}, which the dataset does not "
                        f"have; its labels are {', '.join(sorted(labels))}")


def merged_descriptions(description: str | None, label_descriptions: dict[str, str] | None,
                        old: dict[str, Any] | None, labels: list) -> dict[str, Any]:
    """``description`` and ``label_descriptions`` for a new dataset.json: those given, else the previous version's
    (re-preparing never loses words written on the Data page; those of labels that are gone are dropped)."""
    old = old or {}
    known = {str(x) for x in labels}
    check_label_names(label_descriptions or {}, known)
    kept = {k: v for k, v in (old.get("label_descriptions") or {}).items() if k in known}
    return {"description": description if description is not None else old.get("description", ""),
            "label_descriptions": {**kept, **(label_descriptions or {})}}


def set_descriptions(dataset_id: str, description: str | None = None,
                     label_descriptions: dict[str, str] | None = None, store=None) -> dict[str, Any]:
    """Edit a prepared dataset's descriptions without re-preparing it; returns the new info.

    ``None`` leaves a value as it is; a label given an empty text loses its description.
    dataset.json is replaced atomically (a temporary file renamed over it), then the store's
    row is updated. The split, and so its hash and every run's comparability, are untouched.
    """
    meta = dataset_dir(dataset_id) / "dataset.json"
    if not meta.exists():
        raise FileNotFoundError(f"dataset {dataset_id!r} is not prepared")
    info = json.loads(meta.read_text())
    if description is not None:
        info["description"] = " ".join(str(description).split())  # one line
    if label_descriptions is not None:
        check_label_names(label_descriptions, set(info["labels"]))
        merged = {**(info.get("label_descriptions") or {}), **{k: " ".join(str(v).split())
                                                                for k, v in label_descriptions.items()}}
        info["label_descriptions"] = {k: v for k, v in merged.items() if v}
    info.setdefault("description", "")
    info.setdefault("label_descriptions", {})
    tmp = meta.with_name(f".dataset.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info, indent=2, default=str))
    os.replace(tmp, meta)
    if store is None:
        from .store import Store

        store = Store()
    store.upsert_dataset(info)
    return info
