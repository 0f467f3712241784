"""Datasets: load (bundled or user file) → validate → dedupe → split (seeded, stratified) → stats → save.

``prepare(DataSpec(...))`` is the one entry point; the CLI (``python -m pipelines data
prepare``) and the dashboard build a :class:`DataSpec` and call it. The result is a
prepared dataset (``pipelines.prepared``) registered in the store, whose ``split_hash``
every run records: runs are comparable exactly when their split hashes match.

Bundled ids: ``rotten_tomatoes`` (default; labels negative/positive), ``bbc_news`` (5 topics),
``movie_genres`` (multi-label, 5,000-title sample). The reading code lives in
``data_io`` (files, encodings), ``data_bundled`` (package data) and ``data_split``
(validation, dedupe, split).

Preparing the same spec again is a no-op (same split, same hash). Preparing a different
split under an existing id is refused unless ``overwrite``: runs on the old split would
silently stop matching it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import paths, prepared
from .configs import JobConfig, Range
from .data_bundled import BUNDLED
from .data_io import DataError, read_table
from .data_split import build_examples, check_classes, check_ratios, dedupe, label_counts, split, subsample
from .runkind import RunKind
from .text_clean import near_empty

__all__ = ["DataError", "DataSpec", "BUNDLED", "DEFAULT_DATASET", "prepare", "ensure_prepared",
           "token_length_percentiles", "load_examples", "compute_stats", "dataset_id_for"]

log = logging.getLogger(__name__)

DEFAULT_DATASET = "rotten_tomatoes"
PERCENTILES = (50, 90, 95, 99)


@dataclass
class DataSpec(JobConfig):
    """Everything that determines a prepared dataset; saved in its dataset.json."""


    source: str = field(default=DEFAULT_DATASET, metadata={
        "help": f"bundled dataset ({', '.join(BUNDLED)}) or a path: .csv .tsv .jsonl .json .parquet "
                "(optionally .gz/.bz2/.xz) or a datasets.save_to_disk folder"})
    name: str | None = field(default=None, metadata={
        "help": "id of the prepared dataset (default: the bundled name or the file name, with -<max_rows> "
                "and -s<seed> when those differ from the defaults)"})
    text_column: list[str] | None = field(default=None, metadata={
        "help": "text column(s) of a user file (default: text); several are joined with --text-separator"})
    text_separator: str = field(default="\\n", metadata={
        "help": "put between joined text columns; \\n and \\t mean newline and tab"})
    label_column: str | None = field(default=None, metadata={
        "help": "label column of a user file (default: label); holding lists or used with --label-delimiter "
                "it is multi-label"})
    label_columns: list[str] | None = field(default=None, metadata={
        "help": "multi-label as several 0/1 columns, one per label (the column names become the labels)"})
    label_delimiter: str | None = field(default=None, metadata={
        "help": "multi-label as one delimited string per row, e.g. '|' or ','"})
    delimiter: str | None = field(default=None, metadata={
        "help": "field separator of a CSV/TSV file (default: tab for .tsv; for .csv ',' unless the header line "
                "has none but ';', tab or '|': then the most frequent of those, recorded as detected)"})
    encoding: str | None = field(default="auto", metadata={
        "help": "file encoding: auto (a byte-order mark, else UTF-8 if it decodes, else detected with "
                "charset-normalizer; the one used is recorded) or a Python codec name: cp1252, latin-1, utf-16, …"})
    strip_html: bool = field(default=True, metadata={
        "help": "strip HTML tags and decode entities (<br />, <a href…>, &amp;) in the texts of a user file, before "
                "duplicates are merged; counted in the stats either way (bundled datasets are used as published)"})
    drop_empty: bool = field(default=False, metadata={
        "help": "drop rows with an empty text or missing label instead of stopping with an error"})
    max_rows: int | None = field(default=None, metadata={
        "help": "seeded, class-stratified subsample before splitting (default: all rows; movie_genres: 5000; "
                "0 = all rows)", "range": Range(2, 1_000_000_000, special=(0,), special_means="all rows")})
    split: list[float] = field(default_factory=lambda: [0.75, 0.15, 0.10], metadata={
        "help": "train validation test ratios"})
    seed: int = field(default=42, metadata={"help": "seed of the subsample and the split", "range": Range(0, 2**32 - 1)})
    tokenizer: str = field(default="minilm", metadata={
        "help": "tokenizer for the token-length statistics (catalog name, folder or Hub id; 'none' to skip)"})
    max_file_mb: float = field(default=200.0, metadata={"help": "refuse files larger than this (MB)",
                                                        "range": Range(0, 1_000_000)})
    overwrite: bool = field(default=False, metadata={
        "help": "replace an existing prepared dataset of the same id whose split differs"})
    description: str | None = field(default=None, metadata={
        "help": "one line saying what the texts are (e.g. 'tweets about a train company'); prompts are worded from "
                "it. Not part of the split: change it later with `data describe`"})
    label_description: list[str] | None = field(default=None, metadata={
        "help": "what a label means, as LABEL=TEXT (one per label: pos='a positive review'); prompts and LLM label "
                "words start from it. Not part of the split"})

    def __post_init__(self) -> None:
        """Field ranges (JobConfig), then the split ratios: refused here, before anything is read."""
        super().__post_init__()
        if not all(isinstance(r, (int, float)) and math.isfinite(r) for r in self.split):
            raise DataError(f"split ratios must be three finite numbers (train validation test), got {self.split}")
        check_ratios(self.split)
        prepared.parse_label_descriptions(self.label_description or [])


def _slug(text: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:60] or "dataset"


def dataset_id_for(spec: DataSpec) -> str:
    if spec.name:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.name).strip("-.")
        if not slug:
            raise DataError(f"dataset name {spec.name!r} has no usable characters (letters, digits, _ . -)")
        return slug
    bundled = BUNDLED.get(spec.source)
    base = spec.source if bundled else _slug(_strip_suffixes(Path(spec.source).name))
    default_rows = bundled.default_max_rows if bundled else None
    if spec.max_rows is not None and spec.max_rows != (default_rows or 0):
        base += f"-{spec.max_rows or 'all'}"
    if spec.seed != 42:
        base += f"-s{spec.seed}"
    return base


def _strip_suffixes(name: str) -> str:
    return re.sub(r"(\.(csv|tsv|tab|jsonl|ndjson|json|parquet|pq))?(\.(gz|bz2|xz))?$", "", name, flags=re.I)


def load_examples(spec: DataSpec) -> tuple[pd.DataFrame, bool, dict[str, Any], dict[str, Any]]:
    """Spec → (examples, multi_label, cleaning report, source description), validated and deduped."""
    report: dict[str, Any] = {}
    bundled = BUNDLED.get(spec.source)
    if bundled:
        given = [f for f in ("text_column", "label_column", "label_columns", "label_delimiter", "delimiter")
                 if getattr(spec, f)] + (["encoding"] if (spec.encoding or "auto").lower() != "auto" else [])
        if given:
            raise DataError(f"{spec.source} is a bundled dataset with fixed columns; "
                            f"drop {', '.join('--' + g.replace('_', '-') for g in given)}")
        df = bundled.loader()
        multi = bundled.task == prepared.MULTI
        source = {"kind": "bundled", "name": bundled.name, "description": bundled.description,
                  "license": bundled.license}
        name = bundled.name
        label_desc = "the bundled labels"
        max_rows = spec.max_rows if spec.max_rows is not None else bundled.default_max_rows
    else:
        path = Path(spec.source).expanduser()
        read: dict[str, Any] = {}
        raw, fmt = read_table(path, encoding=spec.encoding, delimiter=spec.delimiter, max_file_mb=spec.max_file_mb,
                              report=read)
        name = path.name
        separator = spec.text_separator.replace("\\n", "\n").replace("\\t", "\t")
        df, multi = build_examples(
            raw, name=name, text_columns=list(spec.text_column or ["text"]), separator=separator,
            label_column=spec.label_column, label_columns=spec.label_columns, label_delimiter=spec.label_delimiter,
            drop_empty=spec.drop_empty, report=report, strip_html=spec.strip_html)
        source = {"kind": "file", "path": str(path.resolve()), "format": fmt,
                  **{k: read[k] for k in ("encoding", "encoding_how", "delimiter", "delimiter_how") if k in read}}
        if read.get("line_breaks_in_fields"):
            report["line_breaks_in_fields"] = read["line_breaks_in_fields"]
        label_desc = (f"columns {', '.join(map(repr, spec.label_columns))}" if spec.label_columns
                      else f"column {spec.label_column or 'label'!r}")
        max_rows = spec.max_rows
    report["source_rows"] = int(len(df))
    df = dedupe(df, multi, report)
    if max_rows:
        report["subsampled_from"] = int(len(df))
        df = subsample(df, max_rows, spec.seed, multi)
    try:
        check_classes(df, multi, name, label_desc)
    except DataError as exc:
        raise _after_dedupe(exc, report) from None
    report["near_empty_texts"] = near_empty(df["id"], df["text"])["n"]
    return df, multi, report, source


def _after_dedupe(exc: DataError, report: dict[str, Any]) -> DataError:
    """Say when merging duplicate texts is what left too few classes (not "no labels at all")."""
    removed = report.get("duplicates_removed") or 0
    if not removed:
        return exc
    rows = report.get("source_rows", 0)
    ties = report.get("conflicts_dropped") or 0
    left = rows - removed
    why = (f"{removed:,} of the {rows:,} rows were duplicate texts (merged into one example each"
           + (f"; {ties:,} texts whose copies disagree on the label, in a tie, were dropped" if ties else "")
           + f"), leaving {left:,} example(s)")
    if left == 0:
        return DataError(f"{str(exc).split(':', 1)[0]}: every row is a copy of a text whose labels tie, so nothing "
                         f"is left ({why}). Give each text one label, or add distinct texts")
    return DataError(f"{exc} — note: {why}")


@lru_cache(maxsize=4)
def _tokenizer(name: str):
    from transformers import AutoTokenizer

    from .assets import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model(name))
    tok.model_max_length = 1 << 30  # we measure lengths: no "longer than 512" warning, no truncation
    return tok


def token_lengths(texts: list[str], tokenizer_name: str = "minilm", batch_size: int = 1000) -> np.ndarray:
    """Token count of each text (with special tokens), untruncated."""
    from tqdm.auto import tqdm

    tok = _tokenizer(tokenizer_name)
    out: list[int] = []
    batches = range(0, len(texts), batch_size)
    for i in tqdm(batches, desc=f"tokenizing ({tokenizer_name})", unit="batch", disable=len(batches) < 5 or None):
        out.extend(len(ids) for ids in tok(list(texts[i:i + batch_size]), add_special_tokens=True)["input_ids"])
    return np.asarray(out, dtype=np.int64)


def length_summary(lengths: np.ndarray) -> dict[str, float | int]:
    if not len(lengths):
        return {"n": 0}
    out: dict[str, float | int] = {f"p{q}": int(np.ceil(np.percentile(lengths, q))) for q in PERCENTILES}
    out.update(max=int(lengths.max()), mean=round(float(lengths.mean()), 1), n=int(len(lengths)))
    return out


def token_length_percentiles(texts: list[str], tokenizer_name: str = "minilm") -> dict[str, float | int]:
    """p50/p90/p95/p99 (rounded up), max, mean and n of token lengths; fine-tuning sizes
    ``max_length`` from p95 of the train split so padding is short and few texts are cut."""
    return length_summary(token_lengths(list(texts), tokenizer_name))


def compute_stats(splits: dict[str, pd.DataFrame], multi: bool, tokenizer: str | None) -> dict[str, Any]:
    """Class balance, char lengths and token lengths per split (and over all three)."""
    names = list(prepared.SPLITS)
    every = pd.concat([splits[s] for s in names], ignore_index=True)
    frames = {**{s: splits[s] for s in names}, "all": every}
    counts = {s: label_counts(f, multi) for s, f in frames.items()}
    stats: dict[str, Any] = {
        "n_examples": int(len(every)),
        "label_counts": counts,
        "label_share": {s: {k: round(v / max(len(frames[s]), 1), 4) for k, v in c.items()} for s, c in counts.items()},
        "chars": {s: length_summary(f["text"].str.len().to_numpy()) for s, f in frames.items()},
    }
    if multi:
        stats["labels_per_text"] = {s: round(float(f["labels"].map(len).mean()), 3) for s, f in frames.items()}
        stats["no_label_rows"] = {s: int((f["labels"].map(len) == 0).sum()) for s, f in frames.items()}
    if tokenizer and tokenizer.lower() != "none":
        lengths = token_lengths(every["text"].tolist(), tokenizer)
        bounds = np.cumsum([0] + [len(splits[s]) for s in names])
        tokens: dict[str, Any] = {"tokenizer": tokenizer}
        for s, a, b in zip(names, bounds[:-1], bounds[1:]):
            tokens[s] = length_summary(lengths[a:b])
        tokens["all"] = length_summary(lengths)
        stats["tokens"] = tokens
    return stats


def _existing_info(dataset_id: str) -> dict[str, Any] | None:
    meta = prepared.dataset_dir(dataset_id) / "dataset.json"
    return json.loads(meta.read_text()) if meta.exists() else None


def prepare(spec: DataSpec | str | None = None, store=None, **overrides: Any) -> prepared.PreparedDataset:
    """Prepare (or find already prepared) the dataset described by ``spec``; register it in the store.

    ``prepare("rotten_tomatoes", max_rows=1200, name="rt_small")`` is shorthand for a DataSpec.
    """
    from .store import Store

    if spec is None or isinstance(spec, str):
        spec = DataSpec(**({"source": spec} if spec else {}), **overrides)
    elif overrides:
        spec = DataSpec.from_dict({**spec.to_dict(), **overrides})
    check_ratios(spec.split)
    dataset_id = dataset_id_for(spec)
    log.info("preparing dataset %r from %s", dataset_id, spec.source)
    df, multi, report, source = load_examples(spec)
    splits = split(df, spec.split, spec.seed, multi)
    split_hash = prepared.compute_split_hash(splits, multi)
    store = store or Store()
    spec_dict = spec.to_dict()
    old = _existing_info(dataset_id)
    if old and old.get("split_hash") == split_hash and _split_part(old.get("spec")) == _split_part(spec_dict):
        log.info("dataset %r already prepared with split %s: nothing to do", dataset_id, split_hash)
        registered = store.dataset(dataset_id)
        if not registered or registered["split_hash"] != split_hash:
            store.upsert_dataset(old)
        if spec.description is not None or spec.label_description:
            prepared.set_descriptions(dataset_id, spec.description, _label_descriptions(spec), store=store)
        return prepared.load(dataset_id)
    if old and old.get("split_hash") != split_hash and not spec.overwrite:
        raise DataError(f"dataset {dataset_id!r} already exists with split {old.get('split_hash')}, and this spec "
                        f"gives split {split_hash}: runs on the old split would no longer match it. Pick another "
                        f"--name, or pass --overwrite to replace it")
    labels = sorted({lab for labs in df["labels"] for lab in labs}) if multi else sorted(df["label"].unique())
    info = {
        "name": spec.name or dataset_id,
        "task": prepared.MULTI if multi else prepared.SINGLE,
        "labels": [str(x) for x in labels],
        "seed": spec.seed,
        "ratios": dict(zip(prepared.SPLITS, spec.split)),
        "source": source,
        "spec": spec_dict,
        "stats": {**compute_stats(splits, multi, spec.tokenizer), "cleaning": report},
        **prepared.merged_descriptions(spec.description, _label_descriptions(spec), old, labels),
    }
    _warn_old_runs(store, dataset_id, old, split_hash)
    info = _save_and_register(store, dataset_id, splits, info)
    sizes = info["sizes"]
    log.info("prepared %r: %d train / %d validation / %d test, %d labels, split %s", dataset_id, sizes["train"],
             sizes["validation"], sizes["test"], len(labels), info["split_hash"])
    return prepared.PreparedDataset(info=info, **{s: splits[s] for s in prepared.SPLITS})


def _split_part(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The spec without its descriptions: they are words about the data, not part of the split."""
    return {k: v for k, v in spec.items() if k not in prepared.DESCRIPTION_FIELDS} if spec else spec


def _label_descriptions(spec: DataSpec) -> dict[str, str] | None:
    return prepared.parse_label_descriptions(spec.label_description) if spec.label_description else None


def _warn_old_runs(store, dataset_id: str, old: dict[str, Any] | None, split_hash: str) -> None:
    """``--overwrite`` of a dataset with runs: they stay (``runs list``), but Compare keeps them apart."""
    if not old:
        return
    stale = [r["id"] for r in store.runs(dataset_id) if r["split_hash"] != split_hash]
    if stale:
        log.warning("%d run(s) of %r were scored on its previous split %s and will not be compared with runs on the "
                    "new split %s (they stay in `runs list`; Compare lists them as on an older split): %s",
                    len(stale), dataset_id, str(old.get("split_hash"))[:8], split_hash[:8], ", ".join(stale[:10]))


def _save_and_register(store, dataset_id: str, splits: dict[str, pd.DataFrame],
                       info: dict[str, Any]) -> dict[str, Any]:
    """Write the prepared folder, then register it; a fault in either leaves the previous state.

    The folder is written under a temporary name and renamed into place when complete
    (``prepared.save``); a previous version is set aside first and put back if writing or
    registering fails (a full disk, a read-only store), so no prepared folder is ever left on
    disk without its store row, or half written.
    """
    import shutil

    store.require_writable()
    try:
        paths.ensure_dirs()
    except OSError as exc:
        raise DataError(f"cannot create the workspace folders under {paths.home()} ({exc.strerror}); make it "
                        f"writable or point WORKBENCH_HOME elsewhere") from exc
    folder = prepared.dataset_dir(dataset_id)
    previous = folder.with_name(folder.name + ".previous") if folder.exists() else None
    if previous:
        shutil.rmtree(previous, ignore_errors=True)
        folder.rename(previous)
    try:
        info = prepared.save(dataset_id, splits, info)
        store.upsert_dataset(info)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if previous:
            previous.rename(folder)
        raise
    if previous:
        shutil.rmtree(previous, ignore_errors=True)
    return info


def ensure_prepared(dataset_id: str) -> prepared.PreparedDataset:
    """Load a prepared dataset; a bundled one that is not prepared yet is prepared with defaults."""
    try:
        return prepared.load(dataset_id)
    except FileNotFoundError:
        if dataset_id in BUNDLED:
            return prepare(dataset_id)
        raise


def run_prepare_job(config: dict[str, Any], ctx) -> None:
    """Job kind ``prepare``: lets the dashboard prepare data in the worker (it never loads tokenizers itself)."""
    ctx.progress(0.05, f"preparing {config.get('source')}")
    ds = prepare(DataSpec.from_dict(config))
    ctx.progress(1.0, f"prepared {ds.id} (split {ds.split_hash})")
    return None


KIND = RunKind(name="prepare", display="Prepare a dataset", config=DataSpec, run=run_prepare_job)
