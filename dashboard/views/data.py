"""Data: explore (and describe) prepared datasets, prepare a bundled one, or upload a file and turn it into a split.

Validation is the pipeline's own (``pipelines.data``: same checks, same messages as the
CLI). Reading and checking a file is pandas work and happens here (the upload flow is
``dashboard.upload_form``); saving runs
``python -m pipelines data prepare`` in a subprocess, because it computes token-length
statistics with a tokenizer and the dashboard never imports transformers. Token-length
histograms come from the predictor service for the same reason.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import streamlit as st

from dashboard import charts, services, state
from dashboard.forms import config_form
from dashboard.upload_form import MAX_UPLOAD_MB, upload_flow
from pipelines import paths
from pipelines import prepared as prepared_io
from pipelines.assets import ASSETS
from pipelines.configs import to_cli_args
from pipelines.data import BUNDLED, DataError, DataSpec, dataset_id_for
from pipelines.data_split import label_counts

UPLOAD_TYPES = ["csv", "tsv", "tab", "jsonl", "ndjson", "json", "parquet", "gz", "bz2", "xz"]
TOKENIZERS = [a.name for a in ASSETS.values()]
TOKENS_NS = "token_lengths"
MAX_TOKEN_TEXTS = 5000

st.title("Data")


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
    _descriptions(dataset_id, ds.info)
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


def _descriptions(dataset_id: str, info: dict) -> None:
    """Read and edit what the texts are and what each label means; the split (and its hash) stay as they are."""
    desc = info.get("description") or ""
    labels_desc = info.get("label_descriptions") or {}
    st.markdown(f"**Description:** {desc}" if desc else "*No description yet.*"
                + ("" if not labels_desc else "  \n" + " · ".join(f"`{k}`: {v}" for k, v in labels_desc.items())))
    with st.expander("Edit the descriptions (prompts are worded from them; the split does not change)"):
        with st.form(f"describe_{dataset_id}"):
            new_desc = st.text_input("What are these texts? (one line)", value=desc, key=f"desc_{dataset_id}")
            new_labels = {lab: st.text_input(f"What does `{lab}` mean?", value=labels_desc.get(lab, ""),
                                             key=f"ldesc_{dataset_id}_{lab}") for lab in info["labels"][:50]}
            if st.form_submit_button("Save descriptions"):
                try:
                    prepared_io.set_descriptions(dataset_id, new_desc, new_labels, store=state.store())
                except (DataError, OSError) as exc:
                    st.error(str(exc))
                else:
                    state.refresh()
                    st.success("Descriptions saved.")


def bundled() -> None:
    st.markdown("The embedded datasets ship inside installed packages; preparing one validates, de-duplicates and "
                "splits it (75/15/10, stratified, seed 42) and registers it.")
    prepared = {d["id"] for d in state.datasets()}
    name = st.selectbox("Bundled dataset", list(BUNDLED), key="bundled_name",
                        format_func=lambda n: f"{n} — {BUNDLED[n].description}"
                        + (" (prepared)" if n in prepared else ""))
    file_only = ("text_column", "text_separator", "label_column", "label_columns", "label_delimiter", "delimiter",
                 "encoding", "strip_html", "drop_empty", "max_file_mb")
    defaults = DataSpec()
    fixed = {"source": name, "label_description": None, **{f: getattr(defaults, f) for f in file_only}}
    values, errors = config_form(DataSpec, f"bd_{name}", fixed, ["max_rows", "name", "seed", "description"],
                                 choices={"tokenizer": [*TOKENIZERS, "none"]})
    try:
        if errors:
            raise ValueError("; ".join(errors))
        spec = DataSpec(**values)
    except (DataError, ValueError) as exc:
        st.error(str(exc))
        return
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
                "The header names the columns; the encoding is detected (you can change it).")
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
    upload_flow(path, _save)


tab1, tab2, tab3 = st.tabs(["Prepared datasets", "Upload a file", "Bundled datasets"])
with tab1:
    explore()
with tab2:
    upload()
with tab3:
    bundled()
