"""``predict RUN FILE``: one run's predictions for every text of an unlabelled file, as a CSV.

The output keeps the file's columns and adds ``prediction`` and one ``p::<label>`` column
per class (:mod:`pipelines.predict_file`). It is written to ``--out`` (which must not exist)
or to a new file under the workspace's ``data/predictions/``; ``--queue`` hands a large file
to the worker instead of predicting here.
"""

from __future__ import annotations

from pathlib import Path

from .common import UserError


def register(sub) -> None:
    p = sub.add_parser("predict", help="label an unlabelled file with a finished run (CSV with every class "
                                       "probability)", description=__doc__)
    p.add_argument("run_id", metavar="RUN", help="run id (see `python -m pipelines runs list`)")
    p.add_argument("file", metavar="FILE", help="texts to label: .csv .tsv .jsonl .json .parquet")
    p.add_argument("--out", "-o", metavar="OUT.csv", help="output CSV; must not exist yet "
                                                         "(default: a new file under data/predictions/)")
    p.add_argument("--text-column", help="column holding the texts (default: text, or the only text column)")
    p.add_argument("--encoding", default="auto", help="file encoding (default: auto-detected)")
    p.add_argument("--delimiter", help="CSV delimiter (default: comma; tab for .tsv)")
    p.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default: 32)")
    p.add_argument("--queue", action="store_true", help="enqueue a predict job for the worker instead")
    p.set_defaults(func=_predict)


def _predict(args) -> int:
    from .. import predict_file as pf
    from ..store import Store

    store = Store()
    row = store.run(args.run_id)
    if row is None:
        raise UserError(f"no run {args.run_id!r}; see `python -m pipelines runs list`")
    if args.out and Path(args.out).expanduser().exists():
        raise UserError(f"{args.out} already exists; pick another --out (predictions never replace a file)")
    out = args.out or str(pf.default_output(row["id"], args.file))
    if args.queue:
        from ..jobs import submit

        cfg = pf.PredictConfig(run_id=row["id"], input=str(Path(args.file).resolve()), output=out,
                               text_column=args.text_column, encoding=args.encoding, delimiter=args.delimiter,
                               batch_size=args.batch_size)
        job_id = submit(store, "predict", cfg.to_dict())
        print(f"queued predict job {job_id}; it will write {out}")
        return 0
    from ..termprogress import TerminalProgress

    frame, column = pf.read_texts(args.file, args.text_column, args.encoding, args.delimiter)
    view = TerminalProgress(f"predict {len(frame)} texts")
    try:
        result = pf.predict_frame(row["path"], frame, column, args.batch_size,
                                  progress=lambda f: view(f, f"{int(f * len(frame))}/{len(frame)} texts"))
    finally:
        view.close()
    path = pf.write_new(result, out)
    counts = result[pf.PRED_COLUMN].value_counts()
    print(f"wrote {len(result)} predictions (text column {column!r}) to {path}")
    print("predicted: " + ", ".join(f"{k or '(invalid)'} {v}" for k, v in counts.items()))
    return 0
