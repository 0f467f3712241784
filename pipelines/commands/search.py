"""``search``, ``pull`` and ``shortlist``: choose candidate models (Hub or installed catalog).

``python -m pipelines search --task fill-mask --license apache-2.0 mit --max-params 150M``
prints a table (``--json`` for scripts). When the Hub cannot be reached, one line on stderr
says so and the installed catalog answers. ``pull ID`` downloads a candidate (safetensors,
config, tokenizer; never remote code) so that ``finetune --model ID`` works offline;
``shortlist add|remove|list DATASET`` keeps the models chosen for a dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..candidates import SORT_KEYS, human_count, parse_count
from ..textout import format_table
from .common import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="find candidate models on the Hub (offline: the installed catalog)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("query", nargs="?", help="free text contained in the model id")
    p.add_argument("--task", help="Hub pipeline tag: fill-mask, feature-extraction, text-classification "
                                  "(encoders) or text-generation (LLMs)")
    p.add_argument("--library", default="transformers", help="library tag (default: transformers; '' = any)")
    p.add_argument("--language", help="language code, e.g. en")
    p.add_argument("--license", nargs="+", default=[], metavar="ID", help="licence allow-list, e.g. apache-2.0 mit")
    p.add_argument("--sort", choices=list(SORT_KEYS), default="downloads", help="order (default: downloads)")
    p.add_argument("--limit", type=int, default=20, help="number of candidates (default: 20)")
    p.add_argument("--exclude", nargs="+", default=[], metavar="PATTERN", help="ids or glob patterns to leave out")
    p.add_argument("--exclude-file", type=Path, help="file with one id or pattern per line (# comments)")
    p.add_argument("--max-params", help="largest parameter count, e.g. 150M or 1.5B")
    p.add_argument("--max-size-mb", type=float, help="largest weight size in MB")
    p.add_argument("--author", help="only this user or organisation")
    p.add_argument("--runnable-only", action="store_true", help="hide models the workbench cannot run")
    p.add_argument("--offline", action="store_true", help="search the installed catalog only")
    _hub_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON (candidates, skipped, source, message)")
    p.set_defaults(func=_search)

    pp = sub.add_parser("pull", help="download a Hub model (safetensors + tokenizer) so runs can use its id")
    pp.add_argument("model", help="Hub id, e.g. prajjwal1/bert-tiny")
    _hub_flags(pp)
    pp.set_defaults(func=_pull)

    sp = sub.add_parser("shortlist", help="models chosen for a dataset (read by the dashboard)")
    ssub = sp.add_subparsers(dest="shortlist_command", required=True)
    a = ssub.add_parser("add", help="add models (catalog names or Hub ids) to a dataset's shortlist")
    a.add_argument("dataset")
    a.add_argument("model", nargs="+")
    _hub_flags(a)
    a.set_defaults(func=_shortlist_add)
    r = ssub.add_parser("remove", help="remove models from a dataset's shortlist")
    r.add_argument("dataset")
    r.add_argument("model", nargs="+")
    r.set_defaults(func=_shortlist_remove)
    ls = ssub.add_parser("list", help="show a dataset's shortlist")
    ls.add_argument("dataset")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_shortlist_list)


def _hub_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", help="Hub URL (default: $HF_ENDPOINT or https://huggingface.co)")
    p.add_argument("--timeout", type=float, default=6.0, help="seconds before giving up on the Hub (default: 6)")


def _settings(args: argparse.Namespace):
    from ..hub import HubSettings

    if args.timeout <= 0:
        raise UserError("--timeout must be positive")
    return HubSettings(endpoint=args.endpoint, deadline_s=args.timeout,
                       read_timeout_s=min(5.0, args.timeout), connect_timeout_s=min(3.0, args.timeout))


def _exclusions(args: argparse.Namespace) -> list[str]:
    out = list(args.exclude)
    if args.exclude_file:
        if not args.exclude_file.is_file():
            raise FileNotFoundError(f"exclusion file {args.exclude_file} not found")
        for line in args.exclude_file.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(line)
    return out


def rows(candidates) -> list[dict]:
    """The table the CLI prints (the dashboard has its own view of the same records)."""
    return [{"model": c.name or c.id, "source": c.source, "task": c.task, "params": human_count(c.params),
             "size_mb": c.size_mb, "license": c.license, "downloads": c.downloads, "likes": c.likes,
             "updated": (c.last_modified or "")[:10] or None,
             "runnable": "yes" if c.runnable else "no: " + "; ".join(c.reasons)} for c in candidates]


def _search(args: argparse.Namespace) -> int:
    from .. import hub
    from ..candidates import SearchQuery

    q = SearchQuery(task=args.task, query=args.query, library=args.library or None, language=args.language,
                    licenses=args.license, sort=args.sort, limit=args.limit, exclude=_exclusions(args),
                    max_params=parse_count(args.max_params), max_size_mb=args.max_size_mb, author=args.author,
                    runnable_only=args.runnable_only)
    res = hub.search(q, _settings(args), offline=True if args.offline else None)
    if res.message:
        print(f"note: {res.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
        return 0
    print(format_table(rows(res.candidates)))
    if res.skipped:
        print(f"({len(res.skipped)} filtered out; --json lists them with reasons)", file=sys.stderr)
    return 0


def _pull(args: argparse.Namespace) -> int:
    from .. import hub

    try:
        folder = hub.download(args.model, _settings(args))
    except hub.HubError as exc:
        raise UserError(f"cannot download {args.model}: {exc}") from exc
    print(f"{args.model} → {folder}\nuse it with: python -m pipelines finetune --model {args.model}")
    return 0


def lookup(model: str, settings=None):
    """A Candidate for a catalog name, an installed id, or (online) any Hub id."""
    from .. import catalog, hub

    for c in catalog.installed(unpack=False):
        if model in (c.name, c.id, c.model_ref):
            return c
    try:
        return hub.model_details(model, settings)
    except hub.HubError as exc:
        raise UserError(f"{model} is neither installed nor reachable on the Hub: {exc}") from exc


def _shortlist_add(args: argparse.Namespace) -> int:
    from ..shortlist import shortlist_add
    from ..store import Store

    if Store().dataset(args.dataset) is None:
        known = ", ".join(d["id"] for d in Store().datasets()) or "none yet"
        raise UserError(f"no prepared dataset {args.dataset!r} (prepared: {known}); prepare it first with "
                        f"`python -m pipelines data prepare`")
    for m in args.model:
        items = shortlist_add(args.dataset, lookup(m, _settings(args)))
    print(f"shortlist of {args.dataset}: " + ", ".join(x.get("name") or x["id"] for x in items))
    return 0


def _shortlist_remove(args: argparse.Namespace) -> int:
    from ..shortlist import shortlist_remove

    items = []
    for m in args.model:
        items = shortlist_remove(args.dataset, m)
    print(f"shortlist of {args.dataset}: " + (", ".join(x.get("name") or x["id"] for x in items) or "(empty)"))
    return 0


def _shortlist_list(args: argparse.Namespace) -> int:
    from ..candidates import Candidate
    from ..shortlist import shortlist

    items = shortlist(args.dataset)
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        print(format_table(rows([Candidate.from_dict(x) for x in items])))
    return 0
