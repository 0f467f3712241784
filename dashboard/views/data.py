"""Data: explore prepared datasets, prepare a bundled one, or upload a file and turn it into a split.

Validation is the pipeline's own (``pipelines.data``: same checks, same messages as the
CLI). Reading and checking a file is pandas work and happens here; saving runs
``python -m pipelines data prepare`` in a subprocess, because it computes token-length
statistics with a tokenizer and the dashboard never imports transformers. Token-length
histograms come from the predictor service for the same reason.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, services, state
from pipelines import paths
from pipelines.assets import ASSETS
from pipelines.configs import to_cli_args
from pipelines.data import BUNDLED, DataError, DataSpec, dataset_id_for, load_examples
from pipelines.data_io import read_table
from pipelines.data_split import label_counts
from pipelines.data_split import split as split_examples

MAX_UPLOAD_MB = 50
UPLOAD_TYPES = ["csv", "tsv", "tab", "jsonl", "ndjson", "json", "parquet", "gz", "bz2", "xz"]
TOKENIZERS = [a.name for a in ASSETS.values()]
TOKENS_NS = "token_lengths"
MAX_TOKEN_TEXTS = 5000

st.title("Data")


@st.cache_data(max_entries=8, show_spinner=False)
def _read(path: str, mtime: float, delimiter: str | None, encoding: str | None) -> tuple[pd.DataFrame, str]:
    return read_table(path, delimiter=delimiter, encoding=encoding, max_file_mb=MAX_UPLOAD_MB)


@st.cache_data(max_entries=8, show_spinner=False)
def _examples(spec_json: str, mtime: float) -> tuple[pd.DataFrame, bool, dict, dict]:
    return load_examples(DataSpec.from_json(spec_json))


def _store_tokens(dataset_id: str, split_hash: str, split: str, tokenizer: str, texts: list[str]) -> None:
    lengths = services.token_lengths(state.store(), tokenizer, texts)
    state.store().put(TOKENS_NS, f"{dataset_id}:{split_hash}:{split}:{tokenizer}",
                      {"lengths": lengths, "n_split": len(texts), "at": time.time()})
    state.refresh()


def explore() -> None:
    """The prepared dataset chosen in ``?dataset=``: sizes, balance, preview, token lengths."""
    datasets = state.datasets()
    if not datasets:
        st.info("No prepared dataset yet: prepare a bundled one or upload a file in the next tabs.")
        return
    dataset_id = state.dataset_picker(key="data_dataset")
    row = next(d for d in datasets if d["id"] == dataset_id)
    info = row["info"]
    ds = state.prepared_dataset(dataset_id)
    c = st.columns(5)
    c[0].metric("Task", row["task"].replace("_", "-"))
    c[1].metric("Labels", len(row["labels"]))
    c[2].metric("Train", f"{row['n_train']:,}")
    c[3].metric("Validation", f"{row['n_validation']:,}")
    c[4].metric("Test", f"{row['n_test']:,}")
    src = info.get("source", {})
    st.caption(f"split hash `{row['split_hash']}` · seed {info.get('seed')} · source: "
               f"{src.get('description') or src.get('path') or '?'}")
    if ds is None:
        st.warning(f"The folder of `{dataset_id}` is missing ({row['path']}); prepare it again.")
        return
    counts = (info.get("stats") or {}).get("label_counts") or {
        s: label_counts(ds.split(s), ds.multi_label) for s in ("train", "validation", "test")}
    left, right = st.columns(2)
    left.plotly_chart(charts.class_balance(counts, ds.labels), key="balance")
    with right:
        st.markdown("**Preview** (test split)")
        preview = ds.test.head(50).copy()
        if ds.multi_label:
            preview["labels"] = preview["labels"].map(", ".join)
        st.dataframe(preview, hide_index=True, height=300)

    st.subheader("Token lengths")
    tokens = (info.get("stats") or {}).get("tokens")
    if tokens:
        st.caption(f"Saved with the dataset ({tokens['tokenizer']} tokenizer): " + " · ".join(
            f"{s} p50 {tokens[s]['p50']} / p95 {tokens[s]['p95']} / max {tokens[s]['max']}"
            for s in ("train", "test") if s in tokens and tokens[s].get("n")))
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    tokenizer = c1.selectbox("Tokenizer", TOKENIZERS, key="tok_name",
                             format_func=lambda n: f"{n} — {ASSETS[n].hub_id}")
    split = c2.selectbox("Split", ["train", "validation", "test"], key="tok_split")
    key = f"{dataset_id}:{row['split_hash']}:{split}:{tokenizer}"
    saved = state.kv_items(TOKENS_NS).get(key)
    if c3.button("Compute" if not saved else "Recompute", key="tok_go", width="stretch"):
        texts = ds.split(split)["text"].tolist()[:MAX_TOKEN_TEXTS]
        with st.spinner(f"Tokenizing {len(texts):,} texts in the predictor service…"):
            try:
                _store_tokens(dataset_id, row["split_hash"], split, tokenizer, texts)
            except services.ServiceError as exc:
                st.error(f"Could not compute token lengths: {exc}")
        saved = state.kv_items(TOKENS_NS).get(key)
    if saved:
        st.plotly_chart(charts.token_lengths(saved["lengths"], tokenizer), key="tokens")
        if saved["n_split"] < len(ds.split(split)):
            st.caption(f"First {saved['n_split']:,} texts of the split.")
    else:
        st.caption("Pick a tokenizer and press Compute: it runs in the predictor service (no model is loaded "
                   "in the dashboard).")


def bundled() -> None:
    st.markdown("The embedded datasets ship inside installed packages; preparing one validates, de-duplicates and "
                "splits it (75/15/10, stratified, seed 42) and registers it.")
    prepared = {d["id"] for d in state.datasets()}
    name = st.selectbox("Bundled dataset", list(BUNDLED), key="bundled_name",
                        format_func=lambda n: f"{n} — {BUNDLED[n].description}"
                        + (" (prepared)" if n in prepared else ""))
    max_rows = st.number_input("Subsample to (rows, 0 = all)", min_value=0, step=500, key="bundled_rows",
                               value=int(BUNDLED[name].default_max_rows or 0))
    spec = DataSpec(source=name, max_rows=int(max_rows) if max_rows != (BUNDLED[name].default_max_rows or 0) else None)
    if st.button(f"Prepare `{dataset_id_for(spec)}`", type="primary", key="bundled_go"):
        _save(spec)


def _save(spec: DataSpec) -> None:
    with st.spinner("Preparing (validation, split, token statistics)…"):
        ok, msg = services.run_cli(["data", "prepare", spec.source, *to_cli_args(spec, skip=("source",))])
    state.refresh()
    if ok:
        new_id = dataset_id_for(spec)
        state.qp_set("dataset", new_id)
        st.success(f"Saved dataset `{new_id}`. It is now the current dataset on every page.")
        with st.expander("Summary"):
            st.code(msg, language=None)
    else:
        st.error(msg)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).name).strip("._") or "upload.csv"


def stored_name(name: str, data: bytes, folder: Path) -> str:
    """The file name an upload is kept under, never overwriting a different file.

    Names that differ only in punctuation ("a&b.csv", "a b.csv") map to one safe name
    ("a_b.csv"); when a different file already holds it, a short content hash keeps both
    ("a_b-1f2e3d4c.csv"), and the same content uploaded again maps to the same name.
    """
    safe = _safe_name(name)
    target = folder / safe
    if not target.exists() or target.read_bytes() == data:
        return safe
    stem, suffix = re.match(r"(.*?)((?:\.[A-Za-z0-9]{1,8}){0,2})$", safe).groups()
    return f"{stem or 'upload'}-{hashlib.sha256(data).hexdigest()[:8]}{suffix}"


def upload() -> None:
    st.markdown(f"CSV, TSV, JSONL or Parquet, up to {MAX_UPLOAD_MB} MB (optionally .gz/.bz2/.xz). "
                "UTF-8 text; the header names the columns.")
    file = st.file_uploader("Data file", type=UPLOAD_TYPES, max_upload_size=MAX_UPLOAD_MB, key="upload_file")
    folder = paths.uploads_dir()
    if file is not None:
        folder.mkdir(parents=True, exist_ok=True)
        data = file.getvalue()
        target = folder / stored_name(file.name, data, folder)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        if st.session_state.get("_last_upload") != (file.file_id, target.name):  # a new upload: select it
            st.session_state["_last_upload"] = (file.file_id, target.name)
            st.session_state["upload_pick"] = target.name
            state.qp_set("upload", target.name)
    files = sorted(p.name for p in folder.glob("*") if p.is_file()) if folder.exists() else []
    if not files:
        return
    if st.session_state.get("upload_pick") not in files:  # first visit, reload, or the file is gone
        current = state.qp_get("upload")
        st.session_state["upload_pick"] = current if current in files else files[-1]
    chosen = st.selectbox("Uploaded file", files, key="upload_pick")
    state.qp_set("upload", chosen)
    path = folder / chosen
    delimiter = st.text_input("Delimiter (blank: ',' for CSV, tab for TSV)", key="up_delim", max_chars=3) or None
    try:
        raw, fmt = _read(str(path), path.stat().st_mtime, delimiter, None)
    except (DataError, FileNotFoundError) as exc:
        st.error(str(exc))
        return
    st.caption(f"{fmt.upper()} · {len(raw):,} rows · columns: {', '.join(map(str, raw.columns))}")
    st.dataframe(raw.head(20), hide_index=True, height=220)

    cols = [str(c) for c in raw.columns]
    c1, c2 = st.columns(2)
    text_default = ["text"] if "text" in cols else cols[:1]
    text_cols = c1.multiselect("Text column(s)", cols, default=text_default, key="up_text",
                               help="several columns are joined with a newline")
    mode = c2.radio("Labels", ["one label column", "delimited labels (multi-label)", "0/1 columns (multi-label)"],
                    key="up_mode", horizontal=True)
    label_column, label_columns, label_delim = None, None, None
    if mode == "0/1 columns (multi-label)":
        label_columns = c2.multiselect("Label columns (0/1)", [c for c in cols if c not in text_cols], key="up_lcols")
    else:
        rest = [c for c in cols if c not in text_cols] or cols
        label_column = c2.selectbox("Label column", rest, index=rest.index("label") if "label" in rest else 0,
                                    key="up_lcol")
        if mode.startswith("delimited"):
            label_delim = c2.text_input("Label delimiter", value="|", key="up_ldelim", max_chars=3)
    c3, c4, c5, c6 = st.columns(4)
    train = c3.number_input("Train share", 0.05, 0.95, 0.75, 0.05, key="up_train")
    val = c4.number_input("Validation share", 0.0, 0.9, 0.15, 0.05, key="up_val")
    seed = c5.number_input("Seed", 0, 2**31 - 1, 42, key="up_seed")
    drop_empty = c6.checkbox("Drop empty rows", key="up_drop", help="drop rows with an empty text or missing label "
                             "instead of stopping with an error")
    test = round(1.0 - train - val, 4)
    name = st.text_input("Dataset id (blank: from the file name)", key="up_name")
    try:
        spec = DataSpec(source=str(path), name=name or None, text_column=text_cols or None,
                        label_column=label_column, label_columns=label_columns or None,
                        label_delimiter=label_delim or None, delimiter=delimiter, drop_empty=drop_empty,
                        split=[round(train, 4), round(val, 4), test], seed=int(seed), max_file_mb=MAX_UPLOAD_MB)
        dataset_id = dataset_id_for(spec)
        examples, multi, report, _ = _examples(spec.to_json(), path.stat().st_mtime)
        splits = split_examples(examples, spec.split, spec.seed, multi)
    except (DataError, ValueError) as exc:
        st.error(str(exc))
        return
    counts = {s: label_counts(df, multi) for s, df in splits.items()}
    st.success(f"{len(examples):,} examples, {len(counts['train'])} labels"
               + (" (multi-label)" if multi else "") + " — "
               + ", ".join(f"{s} {len(df):,}" for s, df in splits.items()))
    if report:
        st.caption("Cleaning: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.items()))
    st.plotly_chart(charts.class_balance(counts), key="up_balance")
    existing = {d["id"] for d in state.datasets()}
    if st.button(f"Save as `{dataset_id}`" + (" (exists)" if dataset_id in existing else ""), type="primary",
                 key="up_save"):
        _save(spec)


tab1, tab2, tab3 = st.tabs(["Prepared datasets", "Upload a file", "Bundled datasets"])
with tab1:
    explore()
with tab2:
    upload()
with tab3:
    bundled()
