"""``python -m pipelines …``: every subcommand lives in ``pipelines/commands/<name>.py``.

Each command module exposes ``register(subparsers)``, which adds its parser(s) and sets
``func`` (called with the parsed namespace, returning an exit code). Modules are imported
to build the parser, so they keep heavy imports (torch, transformers) inside functions:
``python -m pipelines --help`` must answer in a second.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from . import commands


class UserError(Exception):
    """An error the user can fix; printed as one line, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines",
                                     description="Text-classification model-comparison workbench")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        try:
            module = importlib.import_module(f"{commands.__name__}.{info.name}")
        except ImportError as exc:  # one broken command must not take the whole CLI down
            logging.getLogger(__name__).warning("command module %s unavailable: %s", info.name, exc)
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "codecarbon", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError, KeyError) as exc:
        if args.verbose:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2


def format_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Plain-text table for terminal output (no extra dependency)."""
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
