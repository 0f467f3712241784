"""From a raw table to validated examples and a seeded, stratified train/validation/test split.

Examples are a frame with ``id`` (1-based source row), ``text`` and ``label`` (str) or
``labels`` (list[str]). Validation stops at the first problem with a :class:`DataError`
naming rows and columns; nothing is dropped silently (empty texts only with
``drop_empty``; exact duplicate texts are merged and counted, because a text that sits in
both train and test inflates every score compared on that split).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .data_errors import DataError, excerpt, rows_named
from .text_clean import clean_texts

log = logging.getLogger(__name__)

MAX_CLASSES = 1000  # past this, metrics cost minutes and gigabytes, and the column is rarely a real label

_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no", ""}


_rows = rows_named


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return False


def _as_text(v: Any) -> str:
    return "" if _is_missing(v) else str(v).strip()


def _as_label(v: Any) -> str:
    if _is_missing(v):
        return ""
    if isinstance(v, float) and v.is_integer():  # 1.0 from a float column means class "1"
        v = int(v)
    return str(v).strip()


def check_columns(raw: pd.DataFrame, wanted: list[str], name: str) -> None:
    missing = [c for c in wanted if c not in raw.columns]
    if not missing:
        return
    avail = ", ".join(excerpt(str(c), 40) for c in list(raw.columns)[:20])
    if len(raw.columns) > 20:
        avail += f", … ({len(raw.columns) - 20} more)"
    hint = ""
    if len(raw.columns) == 1 and any(s in str(raw.columns[0]) for s in ("\t", ";", "|")):
        hint = (" — the header looks like one column holding several names: is the delimiter right? "
                "(.tsv files are read tab-separated; pass --delimiter otherwise)")
    raise DataError(f"{name}: column(s) {', '.join(excerpt(c, 40) for c in missing)} not found; available columns: "
                    f"{avail}{hint}. Name the right ones with --text-column / --label-column / --label-columns")


def _check_flat(raw: pd.DataFrame, col: str, name: str, role: str, lists_ok: bool) -> None:
    """Refuse nested values (structs, lists of lists) where a string is needed.

    Without this a Parquet struct column becomes Python reprs like ``"{'x': '0'}"`` used as
    texts or labels: a run would train and score on them without a word.
    """
    def nested(v: Any) -> bool:
        if isinstance(v, dict):
            return True
        if isinstance(v, (list, tuple, np.ndarray)):
            return not lists_ok or any(isinstance(x, (dict, list, tuple, np.ndarray)) for x in v)
        return False

    hits = np.flatnonzero([nested(v) for v in raw[col].tolist()])
    if not len(hits):
        return
    first = raw[col].iloc[hits[0]]
    what = "a struct (nested fields)" if isinstance(first, dict) else "a list" + (" of lists/structs" if lists_ok else "")
    need = "strings" if role == "text" or not lists_ok else "strings or lists of strings (multi-label)"
    raise DataError(f"{name}: {role} column {col!r} holds {what} in {_rows(hits + 1)}, e.g. {excerpt(first)}; it "
                    f"must hold {need}. Flatten that column (pick the nested field you mean) or name another column")


def build_examples(raw: pd.DataFrame, *, name: str, text_columns: list[str], separator: str,
                   label_column: str | None, label_columns: list[str] | None, label_delimiter: str | None,
                   drop_empty: bool, report: dict[str, Any], strip_html: bool = False) -> tuple[pd.DataFrame, bool]:
    """Raw table → (examples, multi_label). Multi-label when label_columns (0/1 flags), a
    label_delimiter, or a label column holding lists (JSONL/Parquet/datasets).

    Markup is counted in ``report`` and, with ``strip_html``, stripped here: before the
    empty-text check (a text that was only markup is empty) and before ``dedupe`` (two
    copies that differ only by a ``<br />`` are one text).
    """
    if label_columns and label_column:
        raise DataError("give either one label column (--label-column) or several 0/1 label columns "
                        "(--label-columns), not both")
    if label_columns and label_delimiter:
        raise DataError("--label-delimiter applies to one label column holding delimited labels; "
                        "it cannot be combined with 0/1 --label-columns")
    label_cols = list(label_columns) if label_columns else [label_column or "label"]
    check_columns(raw, list(text_columns) + label_cols, name)
    for col in text_columns:
        _check_flat(raw, col, name, "text", lists_ok=False)
    for col in label_cols:
        _check_flat(raw, col, name, "label", lists_ok=not label_columns)
    if not len(raw):
        raise DataError(f"{name}: no data rows (only a header?)")
    ids = np.arange(1, len(raw) + 1)

    parts = [raw[c].map(_as_text) for c in text_columns]
    text = parts[0] if len(parts) == 1 else pd.Series(
        [separator.join(p for p in row if p) for row in zip(*parts)], index=raw.index)
    cleaned, counts = clean_texts(text.tolist(), strip_html)
    report.update(counts)
    df = pd.DataFrame({"id": ids, "text": cleaned})
    where = " + ".join(repr(c) for c in text_columns)

    if label_columns:
        multi = True
        flags = {}
        for col in label_columns:
            vals = raw[col].map(lambda v: _as_label(v).lower())
            bad = ~vals.isin(_TRUE | _FALSE)
            if bad.any():
                first = np.flatnonzero(bad.to_numpy())
                raise DataError(f"{name}: label column {col!r} must hold 0/1 flags; {_rows(ids[first])} hold(s) "
                                f"{excerpt(raw[col].iloc[first[0]])}. Fix those values or use --label-column with "
                                f"--label-delimiter for a delimited label string")
            flags[col] = vals.isin(_TRUE).to_numpy()
        df["labels"] = [[str(c) for c in label_columns if flags[c][i]] for i in range(len(df))]
    else:
        col = label_cols[0]
        values = raw[col].tolist()
        is_list = [isinstance(v, (list, tuple, np.ndarray)) for v in values]
        multi = bool(label_delimiter) or any(is_list)
        if multi:
            def split_labels(v: Any) -> list[str]:
                if isinstance(v, (list, tuple, np.ndarray)):
                    return sorted({_as_label(x) for x in v} - {""})
                s = _as_label(v)
                return sorted({p.strip() for p in s.split(label_delimiter)} - {""}) if label_delimiter else (
                    [s] if s else [])
            df["labels"] = [split_labels(v) for v in values]
        else:
            df["label"] = [_as_label(v) for v in values]
            df = _drop_or_refuse(df, df["label"] == "", drop_empty, report, "dropped_missing_label",
                                 lambda n, total, rows: f"{name}: {n} of {total} rows have no label in column "
                                                        f"{col!r} ({rows})")

    df = _drop_or_refuse(df, df["text"] == "", drop_empty, report, "dropped_empty_text",
                         lambda n, total, rows: f"{name}: {n} of {total} rows have an empty or whitespace-only text "
                                                f"in column {where} ({rows})")
    if not len(df):
        raise DataError(f"{name}: no rows left after dropping empty texts/labels")
    return df.reset_index(drop=True), multi


def dedupe(df: pd.DataFrame, multi: bool, report: dict[str, Any]) -> pd.DataFrame:
    """Merge exact duplicate texts into one example (the lowest id), so no text can straddle splits.

    Copies that disagree: multi-label takes the union of their labels (a title shared by
    several films has all their genres); single-label keeps the majority label and drops the
    text when the vote is tied. All counts go into the report.
    """
    dup_mask = df["text"].duplicated(keep=False)
    report["duplicates_removed"] = 0
    report["duplicate_conflicts"] = 0
    report["conflicts_dropped"] = 0
    if not dup_mask.any():
        return df
    keep = df[~dup_mask]
    merged = []
    dropped_conflicts = []
    for _text, group in df[dup_mask].groupby("text", sort=False):
        first = group.iloc[0].to_dict()
        if multi:
            sets = {tuple(x) for x in group["labels"]}
            if len(sets) > 1:
                report["duplicate_conflicts"] += 1
            first["labels"] = sorted({lab for labs in group["labels"] for lab in labs})
        else:
            counts = group["label"].value_counts()
            if len(counts) > 1:
                report["duplicate_conflicts"] += 1
                if counts.iloc[0] == counts.iloc[1]:
                    dropped_conflicts.append(int(first["id"]))
                    continue
            first["label"] = counts.index[0]
        merged.append(first)
    out = pd.concat([keep, pd.DataFrame(merged, columns=df.columns)], ignore_index=True)
    out = out.sort_values("id").reset_index(drop=True)
    report["duplicates_removed"] = int(len(df) - len(out))
    report["conflicts_dropped"] = len(dropped_conflicts)
    log.info("merged exact duplicate texts: %d rows removed (%d texts had conflicting labels, %d dropped as ties)",
             report["duplicates_removed"], report["duplicate_conflicts"], len(dropped_conflicts))
    return out


def _allocate(counts: dict[str, int], total: int) -> dict[str, int]:
    """Largest-remainder rounding: integer shares of ``total`` proportional to ``counts``."""
    n = sum(counts.values())
    exact = {k: v * total / n for k, v in counts.items()}
    out = {k: int(math.floor(x)) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (out[k] - exact[k], k))[: total - sum(out.values())]:
        out[k] += 1
    return out


def subsample(df: pd.DataFrame, max_rows: int, seed: int, multi: bool) -> pd.DataFrame:
    """Seeded subsample keeping class proportions (single-label); uniform for multi-label."""
    if len(df) <= max_rows:
        return df
    rng = np.random.default_rng(seed)
    if multi:
        pick = rng.choice(len(df), size=max_rows, replace=False)
        return df.iloc[np.sort(pick)].reset_index(drop=True)
    groups = {lab: np.flatnonzero(df["label"].to_numpy() == lab) for lab in sorted(df["label"].unique())}
    quota = _allocate({k: len(v) for k, v in groups.items()}, max_rows)
    pick = np.concatenate([rng.permutation(groups[k])[: quota[k]] for k in sorted(groups)])
    return df.iloc[np.sort(pick)].reset_index(drop=True)


def label_counts(df: pd.DataFrame, multi: bool) -> dict[str, int]:
    if multi:
        return dict(sorted(pd.Series([lab for labs in df["labels"] for lab in labs]).value_counts().items()))
    return dict(sorted(df["label"].value_counts().items()))


def check_classes(df: pd.DataFrame, multi: bool, name: str, label_desc: str) -> list[str]:
    """At least two classes, each with ≥ 2 examples (else no split can hold it twice), at most
    :data:`MAX_CLASSES`; returns the labels."""
    counts = label_counts(df, multi)
    kind = "label" if multi else "class"
    if len(counts) > MAX_CLASSES:
        kinds = "labels" if multi else "classes"
        raise DataError(f"{name}: {len(counts):,} distinct {kinds} in {label_desc} for {len(df):,} rows, above the "
                        f"limit of {MAX_CLASSES:,} (past it metrics take minutes and gigabytes, and so many values "
                        f"usually mean the column is not a label). Check the label column, or merge rare {kinds}")
    if len(counts) < 2:
        only = next(iter(counts), None)
        detail = f"{excerpt(only)} on {counts[only]} rows" if only is not None else "no labels at all"
        raise DataError(f"{name}: only one {kind} in {label_desc} ({detail}); a classifier needs at least two. "
                        f"Check that you named the right label column(s)")
    rare = {k: v for k, v in counts.items() if v < 2}
    if rare:
        col = "labels" if multi else "label"
        where = []
        for lab in list(rare)[:10]:
            hit = df["labels"].map(lambda labs, lab=lab: lab in labs) if multi else df[col] == lab
            where.append(f"{excerpt(lab, 40)} ({_rows(df['id'][hit])})")
        more = f" and {len(rare) - 10} more" if len(rare) > 10 else ""
        hint = (f" ({len(counts)} distinct values for {len(df)} rows: is {label_desc} really the label?)"
                if len(counts) > max(20, len(df) / 2) else "")
        kinds = kind if len(rare) == 1 else ("labels" if multi else "classes")
        raise DataError(f"{name}: {len(rare)} {kinds} with fewer than 2 examples cannot be split into train and "
                        f"test: {', '.join(where)}{more}{hint}. Add examples, merge them into another {kind}, "
                        f"or remove those rows")
    return list(counts)


def check_ratios(ratios: list[float]) -> tuple[float, float, float]:
    if len(ratios) != 3 or any(r <= 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise DataError(f"split ratios must be three positive numbers (train validation test) summing to 1, "
                        f"got {ratios}")
    return float(ratios[0]), float(ratios[1]), float(ratios[2])


def split(df: pd.DataFrame, ratios: list[float], seed: int, multi: bool) -> dict[str, pd.DataFrame]:
    """Seeded stratified split; each split sorted by id so the content hash is order-free.

    Single-label: every class is shuffled and cut in the given ratios (exact per-class
    stratification). Multi-label: iterative stratification (Sechidis et al. 2011, via
    iterstrat), first test off the whole, then validation off the rest.
    """
    _, r_val, r_test = check_ratios(ratios)
    df = df.sort_values("id").reset_index(drop=True)
    if multi:
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        labels = sorted({lab for labs in df["labels"] for lab in labs})
        y = np.array([[lab in set(labs) for lab in labels] for labs in df["labels"]], dtype=int)
        rest, test = next(MultilabelStratifiedShuffleSplit(n_splits=1, test_size=r_test, random_state=seed)
                          .split(np.zeros(len(df)), y))
        tr, va = next(MultilabelStratifiedShuffleSplit(n_splits=1, test_size=r_val / (1 - r_test), random_state=seed)
                      .split(np.zeros(len(rest)), y[rest]))
        parts = {"train": rest[tr], "validation": rest[va], "test": test}
    else:
        rng = np.random.default_rng(seed)
        parts = {"train": [], "validation": [], "test": []}
        labels_arr = df["label"].to_numpy()
        for lab in sorted(set(labels_arr)):
            idx = rng.permutation(np.flatnonzero(labels_arr == lab))
            n_test, n_val = round(len(idx) * r_test), round(len(idx) * r_val)
            parts["test"].append(idx[:n_test])
            parts["validation"].append(idx[n_test:n_test + n_val])
            parts["train"].append(idx[n_test + n_val:])
        parts = {k: np.concatenate(v) for k, v in parts.items()}
    out = {k: df.iloc[np.sort(v)].reset_index(drop=True) for k, v in parts.items()}
    for k, part in out.items():
        if not len(part):
            raise DataError(f"the {k} split is empty: {len(df)} examples are too few for ratios {list(ratios)}; "
                            f"add data (a few dozen examples per class at least)")
    seen: dict[str, str] = {}
    for k, part in out.items():  # by construction impossible after dedupe; a cheap guarantee
        for t in part["text"]:
            if t in seen:
                raise AssertionError(f"text in both {seen[t]} and {k}: {t[:60]!r}")
            seen[t] = k
    return out


def _drop_or_refuse(df: pd.DataFrame, bad: pd.Series, drop: bool, report: dict[str, Any], key: str,
                    what: Callable[[int, int, str], str]) -> pd.DataFrame:
    """Rows flagged ``bad`` are refused with a message that names them, or dropped and counted when asked."""
    n = int(bad.sum())
    if not n:
        return df
    if not drop:
        raise DataError(what(n, len(df), _rows(df["id"][bad]))
                        + ": fill them in, or pass --drop-empty (drop_empty=True) to drop those rows")
    report[key] = n
    log.info("%s", what(n, len(df), "dropped"))
    return df[~bad]
