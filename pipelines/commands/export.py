"""``export-card RUN`` and ``push RUN --repo ID``: publish a fine-tuned run on the Hub.

``export-card`` writes a Hub-ready folder (weights or LoRA adapter + head, tokenizer, and a
README model card with dataset, split hash, config, metrics with CIs, energy and CO2 with
the measuring method). ``push`` uploads it with ``upload_folder`` when a token (``HF_TOKEN``
or ``hf auth login``) and a network exist; the token is never printed or saved.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-card", help="write a Hub-ready folder (weights, tokenizer, model card) for a run",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run id (see `runs list`) or run folder")
    p.add_argument("--out", type=Path, help="target folder, new or empty (default: a new models/exports/<run id>)")
    p.set_defaults(func=_export)

    pp = sub.add_parser("push", help="upload a run's exported folder to the Hub (needs a token and a network)")
    pp.add_argument("run", help="run id (see `runs list`) or run folder")
    pp.add_argument("--repo", required=True, help="target repo id, NAME or OWNER/NAME (created if missing)")
    pp.add_argument("--private", action="store_true", help="create the repo as private")
    pp.add_argument("--endpoint", help="Hub URL (default: $HF_ENDPOINT or https://huggingface.co)")
    pp.set_defaults(func=_push)


def _export(args: argparse.Namespace) -> int:
    from ..modelcard import export_card

    out = export_card(args.run, args.out)
    print(f"exported {args.run} → {out}")
    return 0


def _push(args: argparse.Namespace) -> int:
    from ..hub import HubSettings
    from ..modelcard import push

    url = push(args.run, args.repo, private=args.private, settings=HubSettings(endpoint=args.endpoint))
    print(f"pushed {args.run} → {url}")
    return 0
