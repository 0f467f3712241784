"""``python -m pipelines compare``: the metrics table of the runs on one test split.

Runs on different splits are refused with the reason (which run is on which split), since
their numbers would not be comparable. The table formats are shared with the dashboard's
Export page (``pipelines/tables.py``), so the CLI and the dashboard print the same table; its
columns (and the ``--sort`` choices) are the registered metric columns (``pipelines/columns.py``).
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..columns import table_columns

log = logging.getLogger(__name__)

# The keys of pipelines.tables.FORMATS (a test checks they agree): importing tables here would load
# pandas for every command of the CLI, since all commands register at start-up.
FORMATS = ("table", "markdown", "csv", "latex", "json")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="table of runs on one split (accuracy/F1 with CIs, energy, speed, size)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--dataset", metavar="ID", help="all runs on this dataset's current split")
    who.add_argument("--runs", nargs="+", metavar="ID", help="these runs (all must be on one split)")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    sort_keys = [c.key for c in table_columns()] + ["created"]
    p.add_argument("--sort", choices=sort_keys, default="macro_f1",
                   help="order rows by this column, best first (default: macro_f1); 'created': oldest first")
    p.add_argument("--test", nargs=2, metavar=("RUN_A", "RUN_B"),
                   help="also run paired significance tests (McNemar, paired bootstrap) of RUN_B against RUN_A")
    p.add_argument("--fold-sweeps", action="store_true",
                   help="show each sweep as its best point, chosen on validation (never on the test split)")
    p.add_argument("--no-reference", action="store_true",
                   help="do not run the TF-IDF reference when the dataset has none (it takes seconds)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import collapse, tables
    from ..compare import load_comparison
    from ..stats import p_value_in_words, significance
    from ..store import Store

    store = Store()
    if args.dataset and not args.no_reference:
        _with_reference(store, args.dataset)
    comp = load_comparison(store, dataset_id=args.dataset, run_ids=args.runs, fold_sweeps=args.fold_sweeps)
    if comp.runs.empty and comp.notes:  # e.g. every run is on a split replaced by `data prepare --overwrite`
        raise ValueError(f"no runs on the current split of {comp.dataset_id!r}: " + "; ".join(comp.notes))
    if comp.runs.empty:
        raise ValueError(f"no runs on dataset {comp.dataset_id!r} yet; train one with `python -m pipelines finetune`"
                         if comp.dataset_id else "no runs in the store yet; train one with `python -m pipelines "
                                                 "finetune` or queue the demo")
    order = list(comp.runs.index) if args.sort == "created" else comp.best(args.sort)
    runs = comp.runs.loc[order]
    text = tables.render(runs, args.format)
    extra = []
    if args.format in ("table", "markdown"):
        extra.append(f"dataset {comp.dataset_id}, split {comp.split_hash[:8]}, {len(runs)} run(s), "
                     f"{int(runs['n_test'].max()) if runs['n_test'].notna().any() else '?'} test examples")
        extra += [f"note: {n}" for n in comp.notes]
    extra += collapse.warning_lines(comp)  # every format: on stderr where stdout must stay machine-readable
    if args.format in ("table", "markdown"):
        from ..sweeps import seed_groups_among
        from ..verdict import verdict_for

        extra.append("verdict: " + verdict_for(comp, seed_groups_among(store, comp.run_ids)).text())
    if args.test:
        res = significance(comp, *args.test)
        mc, ba, bf = res["mcnemar"], res["bootstrap_accuracy"], res["bootstrap_macro_f1"]
        extra += [
            f"{res['label_b']} vs {res['label_a']} on {res['n']} test examples:",
            f"  McNemar ({mc['method']}): only A right {mc['only_a_correct']}, only B right {mc['only_b_correct']}; "
            f"{p_value_in_words(mc['p_value'])}",
            f"  paired bootstrap, accuracy B−A {ba['difference']:+.3f} (95% CI {ba['ci'][0]:+.3f}..{ba['ci'][1]:+.3f});"
            f" {p_value_in_words(ba['p_value'])}",
            f"  paired bootstrap, macro-F1 B−A {bf['difference']:+.3f} (95% CI {bf['ci'][0]:+.3f}..{bf['ci'][1]:+.3f});"
            f" {p_value_in_words(bf['p_value'])}",
        ]
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)
        log.info("wrote %s", args.output)
    else:
        sys.stdout.write(text)
    if extra:  # context lines go to stderr for csv/json/latex so stdout stays machine-readable
        stream = sys.stdout if args.format in ("table", "markdown") and not args.output else sys.stderr
        stream.write("\n".join(extra) + "\n")
    return 0


def _with_reference(store, dataset_id: str) -> None:
    """Run the TF-IDF reference first when the dataset has runs to read against it but no reference yet.

    Not on a read-only workspace, and not when no run is on the current split (then there is
    nothing to compare, and the command says why instead)."""
    from ..reference import ensure_reference
    from ..store_io import StoreError

    ds = store.dataset(dataset_id)
    if store.read_only() or ds is None:
        return
    if any(r["split_hash"] == ds["split_hash"] for r in store.runs(dataset_id=dataset_id)):
        try:
            ensure_reference(store, dataset_id, run_here=True)
        except (OSError, ValueError, StoreError) as exc:  # e.g. a full disk: compare what is there, and say why
            log.warning("the TF-IDF reference could not be run (%s); comparing the runs without it",
                        str(exc).splitlines()[0][:200])
