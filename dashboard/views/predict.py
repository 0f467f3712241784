"""Predict: label a file of new texts with a finished run and download the CSV.

After the comparison picks a winner, this is how it gets used: upload an unlabelled file
(read with the same readers and checks as a Data page upload), pick a run, and download the
file's rows with the predicted label and every class probability. Small files go through the
predictor service (``python -m pipelines serve``: no model ever loads in this process); a
file with more than ``JOB_THRESHOLD`` texts runs as a ``predict`` job in the worker, whose CSV
lands under the workspace (``data/predictions/``) and is offered for download when done.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import services, state
from dashboard.predict_io import result_bytes, stored_upload
from pipelines import predict_file as pf

TYPES = ["csv", "tsv", "txt", "jsonl", "ndjson", "json", "parquet", "gz", "bz2", "xz"]
MAX_MB = 50
LAST_KEY = "predict_last"


st.title("Predict")
st.caption("Label new texts with a finished run: upload a file, pick the run, download a CSV with the predicted "
           "label and every class probability.")
rows = state.run_rows()
if not rows:
    st.info("No finished runs yet: queue the demo on Home or configure runs on the Runs page.")
    st.stop()
by_id = {r["id"]: r for r in reversed(rows)}  # newest first


def _run_name(rid: str) -> str:
    r = by_id[rid]
    f1 = (r.get("summary") or {}).get("macro_f1")
    return f"{state.run_label(r)} · {r['dataset_id']}" + (f" · macro-F1 {f1:.3f}" if f1 is not None else "")


run_id = st.selectbox("Run", list(by_id), format_func=_run_name, key="predict_run")
file = st.file_uploader("File of texts (no labels needed)", type=TYPES, max_upload_size=MAX_MB, key="predict_file")
if file is None:
    st.stop()
path = stored_upload(file.name, file.getvalue())
try:
    frame, detected = pf.read_texts(path)
except ValueError as exc:
    if "which column" not in str(exc):
        st.error(str(exc))
        st.stop()
    from pipelines.data_io import read_table

    frame, detected = read_table(path)[0], None
cols = [str(c) for c in frame.columns]
column = st.selectbox("Text column", cols, index=cols.index(detected) if detected in cols else 0,
                      key="predict_column")
n = len(frame)
st.caption(f"{n:,} rows, columns: {', '.join(cols)}")
st.dataframe(frame.head(5), hide_index=True)
out_name = f"{Path(file.name).stem}-predictions.csv"

if n <= pf.JOB_THRESHOLD:
    if st.button(f"Predict {n:,} texts", type="primary", icon=":material/bolt:", key="predict_go"):
        with st.spinner("Asking the predictor service (a model's first use loads it)…"):
            try:
                st.session_state[LAST_KEY] = (run_id, str(path), column, result_bytes(state.store(), run_id, frame,
                                                                                      column))
            except (services.ServiceError, OSError, ValueError) as exc:
                st.error(f"No prediction: {exc}")
    last = st.session_state.get(LAST_KEY)
    if last and last[:3] == (run_id, str(path), column):
        st.download_button("Download the predictions (CSV)", last[3], file_name=out_name, mime="text/csv",
                           icon=":material/download:", key="predict_download")
else:
    st.info(f"{n:,} texts: more than {pf.JOB_THRESHOLD:,}, so they are predicted by a job in the worker.")
    if st.button("Queue a predict job", type="primary", key="predict_queue"):
        from pipelines.jobs import submit

        out = pf.default_output(run_id, path)
        cfg = pf.PredictConfig(run_id=run_id, input=str(path), output=str(out), text_column=column)
        job_id = submit(state.store(), "predict", cfg.to_dict())
        services.ensure_worker(state.store())
        st.session_state["predict_job"] = job_id
        state.refresh()
    job_id = st.session_state.get("predict_job")
    job = state.store().job(job_id) if job_id else None
    if job:
        out = Path(job["config"]["output"])
        if job["status"] == "done" and out.exists():
            st.success(f"Job #{job_id} wrote {out}.")
            st.download_button("Download the predictions (CSV)", out.read_bytes(), file_name=out_name,
                               mime="text/csv", icon=":material/download:", key="predict_download")
        else:
            st.caption(f"Job #{job_id}: {job['status']} {job.get('message') or ''} (see the Runs page queue); "
                       "reload to check.")
