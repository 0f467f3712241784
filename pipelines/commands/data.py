"""``data prepare|list|show|describe``: prepare bundled or user datasets, inspect them, and describe them."""

from __future__ import annotations

import json

from ..configs import add_dataclass_args, config_from_args
from ..text_clean import report_notes
from ..textout import format_table
from .common import UserError


def register(sub) -> None:
    from ..data import BUNDLED, DataSpec

    p = sub.add_parser("data", help="prepare, list and show datasets")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    pp = dsub.add_parser(
        "prepare", help="validate, split (seeded, stratified) and register a dataset",
        description="Prepare a bundled dataset or a user file: validate it, merge duplicate texts, split it "
                    "75/15/10 (stratified, seeded), compute statistics and register it in the store. "
                    "Preparing the same spec twice does nothing the second time.",
        epilog="bundled: " + "; ".join(f"{b.name}: {b.description}" for b in BUNDLED.values()))
    pp.add_argument("source", nargs="?", default=DataSpec.source,
                    help=f"bundled dataset ({', '.join(BUNDLED)}) or a path: .csv .tsv .jsonl .json .parquet "
                         f"or a datasets.save_to_disk folder (default: {DataSpec.source})")
    add_dataclass_args(pp, DataSpec, skip=("source",))
    pp.set_defaults(func=_prepare)
    lp = dsub.add_parser("list", help="one line per prepared dataset")
    lp.set_defaults(func=_list)
    sp = dsub.add_parser("show", help="sizes, labels, class balance, token lengths and split hash of a dataset")
    sp.add_argument("dataset_id")
    sp.add_argument("--json", action="store_true", help="print dataset.json as is")
    sp.set_defaults(func=_show)
    dp = dsub.add_parser("describe", help="set a dataset's description and what its labels mean (split unchanged)",
                         description="Edit the one-line description and the per-label descriptions that prompt "
                                     "templates are worded from. The split and its hash do not change.")
    dp.add_argument("dataset_id")
    dp.add_argument("--description", help="one line saying what the texts are ('' clears it)")
    dp.add_argument("--label-description", nargs="+", metavar="LABEL=TEXT",
                    help="what a label means, e.g. pos='a positive review' (LABEL= clears it)")
    dp.set_defaults(func=_describe)


def _prepare(args) -> int:
    from ..data import DataSpec, prepare

    ds = prepare(config_from_args(DataSpec, args))
    _print_summary(ds.info)
    return 0


def _describe(args) -> int:
    from .. import prepared
    from ..store import Store

    if args.description is None and not args.label_description:
        raise UserError("nothing to change: pass --description and/or --label-description LABEL=TEXT")
    labels = prepared.parse_label_descriptions(args.label_description) if args.label_description else None
    try:
        info = prepared.set_descriptions(args.dataset_id, args.description, labels, store=Store())
    except FileNotFoundError as exc:
        raise UserError(f"{exc}; run `python -m pipelines data prepare ...` first") from None
    _print_descriptions(info)
    return 0


def _print_descriptions(info: dict) -> None:
    if info.get("description"):
        print(f"description {info['description']}")
    for lab, text in (info.get("label_descriptions") or {}).items():
        print(f"  {lab}: {text}")


def _list(args) -> int:
    from ..store import Store

    rows = []
    for d in Store().datasets():
        info = d["info"]
        rows.append({"id": d["id"], "task": d["task"], "labels": len(d["labels"]), "train": d["n_train"],
                     "validation": d["n_validation"], "test": d["n_test"], "split_hash": d["split_hash"],
                     "source": _source(info)})
    print(format_table(rows))
    return 0


def _source(info: dict) -> str:
    src = info.get("source", {})
    return src.get("name") or src.get("path") or "?"


def _show(args) -> int:
    from .. import prepared
    from ..store import Store

    meta = prepared.dataset_dir(args.dataset_id) / "dataset.json"
    if meta.exists():
        info = json.loads(meta.read_text())
    else:
        row = Store().dataset(args.dataset_id)
        if row is None:
            known = ", ".join(d["id"] for d in Store().datasets()) or "none yet"
            raise UserError(f"no prepared dataset {args.dataset_id!r} (prepared: {known}); "
                            f"run `python -m pipelines data prepare ...`")
        info = row["info"]
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_summary(info)
    return 0


def _delimiter_name(sep: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(sep, repr(sep))


def _print_summary(info: dict) -> None:
    stats = info.get("stats", {})
    sizes = info["sizes"]
    print(f"dataset     {info['id']}  ({info['task']}, {len(info['labels'])} labels)")
    src = info.get("source", {})
    read = [f"{src['encoding']}, {src.get('encoding_how')}"] if src.get("encoding") else []
    if src.get("delimiter"):
        read.append(f"{_delimiter_name(src['delimiter'])}-separated, {src.get('delimiter_how')}")
    print(f"source      {_source(info)}" + (f"  ({'; '.join(read)})" if read else ""))
    _print_descriptions(info)
    print(f"folder      {info['path']}")
    print(f"split hash  {info['split_hash']}  (seed {info.get('seed')})")
    print(f"sizes       train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']}")
    counts = stats.get("label_counts", {})
    shares = stats.get("label_share", {})
    if counts:
        rows = [{"label": lab, **{s: f"{counts[s].get(lab, 0)} ({100 * shares[s].get(lab, 0):.1f}%)"
                                  for s in ("train", "validation", "test")}} for lab in info["labels"]]
        print("\nclass balance (examples per label and share of the split)")
        print(format_table(rows))
    if "labels_per_text" in stats:
        print(f"\nlabels per text: {stats['labels_per_text']}")
    tokens = stats.get("tokens")
    if tokens:
        print(f"\ntoken lengths ({tokens['tokenizer']} tokenizer, with special tokens)")
        print(format_table([{"split": s, **{k: tokens[s].get(k) for k in ("p50", "p90", "p95", "p99", "max", "mean")}}
                            for s in ("train", "validation", "test", "all") if s in tokens]))
    chars = stats.get("chars", {}).get("all")
    if chars:
        print(f"\ntext length in characters: median {chars['p50']}, p95 {chars['p95']}, max {chars['max']}")
    cleaning = stats.get("cleaning")
    if cleaning:
        print("cleaning: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in cleaning.items()))
        for line in report_notes(cleaning):
            print(f"  {line}")

