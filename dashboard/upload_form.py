"""The Data page's "Upload a file" flow: read → preview → pick columns → options → describe → save.

Made for someone who never opens a terminal: the encoding is detected and shown (and can
be overridden), the parsed table is previewed *before* anything is prepared, the text and
label columns are picked from the parsed columns, and every option of ``data prepare``
is in the form, generated from ``DataSpec`` by ``dashboard.forms`` (the page itself renders
only the fields that need the parsed table: columns, encoding, delimiter, descriptions).
Reading and checking is pandas work done here with the pipeline's own code, so messages
match the CLI's; saving runs the CLI (it tokenizes, which the dashboard never does).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, state
from dashboard.forms import config_form
from pipelines.assets import ASSETS
from pipelines.data import DataError, DataSpec, dataset_id_for, load_examples
from pipelines.data_encoding import AUTO, COMMON
from pipelines.data_io import read_table
from pipelines.data_split import label_counts
from pipelines.data_split import split as split_examples
from pipelines.text_clean import near_empty, report_notes

MAX_UPLOAD_MB = 50
# DataSpec fields this flow renders itself (they need the parsed table); every other field comes from the form.
PAGE_FIELDS = ("source", "text_column", "label_column", "label_columns", "label_delimiter", "delimiter", "encoding",
               "description", "label_description")
MAIN_OPTIONS = ["name", "strip_html", "drop_empty", "split", "seed", "max_rows"]
LABEL_MODES = ["one label column", "delimited labels (multi-label)", "0/1 columns (multi-label)"]


@st.cache_data(max_entries=8, show_spinner=False)
def _read(path: str, mtime: float, delimiter: str | None, encoding: str) -> tuple[pd.DataFrame, str, dict]:
    found: dict = {}
    raw, fmt = read_table(path, delimiter=delimiter, encoding=encoding, max_file_mb=MAX_UPLOAD_MB, report=found)
    return raw, fmt, found


@st.cache_data(max_entries=8, show_spinner=False)
def _examples(spec_json: str, mtime: float) -> tuple[pd.DataFrame, bool, dict, dict]:
    return load_examples(DataSpec.from_json(spec_json))


def guess_text_column(raw: pd.DataFrame) -> str:
    """``text`` if there is one, else the column with the longest strings on average."""
    cols = [str(c) for c in raw.columns]
    if "text" in cols:
        return "text"
    lengths = {c: raw[c].head(500).map(lambda v: len(v) if isinstance(v, str) else 0).mean() for c in cols}
    return max(cols, key=lambda c: lengths[c])


def guess_label_column(raw: pd.DataFrame, exclude: list[str]) -> str | None:
    """``label`` if there is one, else the column with the fewest distinct values (at least two)."""
    rest = [str(c) for c in raw.columns if str(c) not in exclude]
    if "label" in rest:
        return "label"
    counts = {c: raw[c].head(5000).astype(str).nunique() for c in rest}
    usable = [c for c in rest if counts[c] >= 2] or rest
    return min(usable, key=lambda c: counts[c]) if usable else None


def _encoding_line(found: dict) -> str:
    how = {"bom": "named by the file's byte-order mark", "utf-8": "the file is valid UTF-8",
           "detected": "detected", "given": "as you picked"}.get(found.get("how", ""), "")
    also = found.get("candidates") or []
    return (f"Encoding: **{found.get('encoding')}** ({how})"
            + (f"; it also decodes as {', '.join(also[:3])}" if also else "")
            + ". If letters look wrong in the preview, pick another encoding.")


def upload_flow(path: Path, save: Callable[[DataSpec], None]) -> None:
    """Everything after a file is chosen; ``save`` prepares the spec (the page runs the CLI)."""
    mtime = path.stat().st_mtime
    if st.session_state.get("up_file") != str(path):  # another file: its form starts from its own guesses,
        for key in [k for k in st.session_state if str(k).startswith("up_")]:  # not the previous file's columns
            del st.session_state[key]
        st.session_state["up_file"] = str(path)
    c1, c2 = st.columns(2)
    encoding = c1.selectbox("Encoding", [AUTO, *COMMON], key="up_encoding",
                            help="auto: a byte-order mark, else UTF-8 if the file is valid UTF-8, else detected "
                                 "(charset-normalizer)")
    delimiter = c2.text_input("Delimiter (blank: detected from the header; tab for TSV)", key="up_delim",
                              max_chars=3) or None
    try:
        raw, fmt, found = _read(str(path), mtime, delimiter, encoding)
    except (DataError, FileNotFoundError) as exc:
        st.error(str(exc))
        return
    if found.get("encoding"):
        st.caption(_encoding_line({"how": found.get("encoding_how"), **found, "candidates":
                                   found.get("encoding_candidates")}))
    if found.get("delimiter_how") == "detected" and found.get("delimiter") != ",":
        st.caption(f"Delimiter: **{found['delimiter']!r}** (detected from the header line; type another above "
                   f"if the columns look wrong).")
    st.markdown(f"**Preview of the file** — {fmt.upper()} · {len(raw):,} rows · {len(raw.columns)} columns: "
                + ", ".join(f"`{c}`" for c in raw.columns))
    if found.get("line_breaks_in_fields"):
        st.caption(f"{found['line_breaks_in_fields']:,} rows hold a carriage return inside a field: read as a line "
                   f"break inside the text, not as a new row.")
    st.dataframe(raw.head(20), hide_index=True, height=220)

    spec = _spec_from_form(raw, path, encoding, delimiter)
    if spec is None:
        return
    try:
        dataset_id = dataset_id_for(spec)
        plain = DataSpec.from_dict({**spec.to_dict(), "description": None, "label_description": None})
        examples, multi, report, _ = _examples(plain.to_json(), mtime)
        splits = split_examples(examples, spec.split, spec.seed, multi)
    except (DataError, ValueError) as exc:
        st.error(str(exc))
        return
    _examples_preview(examples, multi, report, splits)
    labels = sorted({lab for labs in examples["labels"] for lab in labs}) if multi else sorted(
        examples["label"].unique())
    spec = _describe(spec, [str(x) for x in labels])
    if spec is None:
        return
    existing = {d["id"] for d in state.datasets()}
    if st.button(f"Save as `{dataset_id}`" + (" (exists)" if dataset_id in existing else ""), type="primary",
                 key="up_save"):
        save(spec)


def _spec_from_form(raw: pd.DataFrame, path: Path, encoding: str, delimiter: str | None) -> DataSpec | None:
    cols = [str(c) for c in raw.columns]
    st.markdown("**Columns**")
    c1, c2 = st.columns(2)
    text_cols = c1.multiselect("Text column(s)", cols, default=[guess_text_column(raw)], key="up_text",
                               help="several columns are joined (see 'text separator' in the options)")
    mode = c2.radio("Labels", LABEL_MODES, key="up_mode", horizontal=True)
    label_column, label_columns, label_delim = None, None, None
    if mode == LABEL_MODES[2]:
        label_columns = c2.multiselect("Label columns (0/1)", [c for c in cols if c not in text_cols], key="up_lcols")
    else:
        rest = [c for c in cols if c not in text_cols] or cols
        guess = guess_label_column(raw, text_cols)
        label_column = c2.selectbox("Label column", rest, index=rest.index(guess) if guess in rest else 0,
                                    key="up_lcol")
        if mode == LABEL_MODES[1]:
            label_delim = c2.text_input("Label delimiter", value="|", key="up_ldelim", max_chars=3)
    st.markdown("**Options**")
    fixed = {"source": str(path), "text_column": text_cols or None, "label_column": label_column,
             "label_columns": label_columns or None, "label_delimiter": label_delim or None,
             "delimiter": delimiter, "encoding": encoding, "description": None, "label_description": None}
    values, errors = config_form(DataSpec, "up", fixed, MAIN_OPTIONS, values={"max_file_mb": MAX_UPLOAD_MB},
                                 choices={"tokenizer": [*ASSETS, "none"]})
    for e in errors:
        st.error(e)
    if errors:
        return None
    try:
        return DataSpec(**values)
    except (DataError, ValueError) as exc:
        st.error(str(exc))
        return None


def _examples_preview(examples: pd.DataFrame, multi: bool, report: dict, splits: dict[str, pd.DataFrame]) -> None:
    counts = {s: label_counts(df, multi) for s, df in splits.items()}
    st.success(f"{len(examples):,} examples, {len(counts['train'])} labels"
               + (" (multi-label)" if multi else "") + " — "
               + ", ".join(f"{s} {len(df):,}" for s, df in splits.items()))
    for note in report_notes(report):
        st.info(note[0].upper() + note[1:] + ".")
    if report:
        st.caption("Cleaning: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.items()))
    left, right = st.columns(2)
    left.markdown("**Label counts**")
    total = label_counts(examples, multi)
    left.dataframe(pd.DataFrame({"label": list(total), "examples": list(total.values())}), hide_index=True)
    empty = near_empty(examples["id"], examples["text"], limit=20)
    if empty["n"]:
        right.markdown(f"**Near-empty texts: {empty['n']:,}** (kept) — " + ", ".join(
            f"{n:,} {kind}" for kind, n in empty["by_kind"].items() if n))
        right.dataframe(examples[examples["id"].isin(empty["ids"])].head(20), hide_index=True, height=200)
    st.plotly_chart(charts.class_balance(counts), key="up_balance")


def _describe(spec: DataSpec, labels: list[str]) -> DataSpec | None:
    """The dataset's one-line description and what each label means (prompts are worded from them)."""
    with st.expander("Describe the data (used to word LLM prompts; editable later)", expanded=False):
        description = st.text_input("What are these texts? (one line)", key="up_description",
                                    placeholder="e.g. tweets from customers of a train company")
        items = []
        for lab in labels[:50]:
            text = st.text_input(f"What does `{lab}` mean?", key=f"up_ldesc_{lab}",
                                 placeholder="e.g. the customer complains")
            if text.strip():
                items.append(f"{lab}={text.strip()}")
    try:
        return DataSpec.from_dict({**spec.to_dict(), "description": description.strip() or None,
                                   "label_description": items or None})
    except (DataError, ValueError) as exc:
        st.error(str(exc))
        return None
