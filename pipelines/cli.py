"""``python -m pipelines …``: every subcommand lives in ``pipelines/commands/<name>.py``.

Each command module exposes ``register(subparsers)``, which adds its parser(s) and sets
``func`` (called with the parsed namespace, returning an exit code); the command is named
after its file. The modules are imported by name, so a broken one stops the CLI with its
traceback instead of silently losing a command. They keep heavy imports (torch,
transformers) inside functions: ``python -m pipelines --help`` must answer in a second.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from types import ModuleType

from .commands.common import UserError


def command_modules() -> tuple[ModuleType, ...]:
    """Every module in ``pipelines/commands/`` that defines commands, in ``--help`` order."""
    from .commands import (
        baseline,
        compare,
        curve,
        data,
        demo,
        export,
        finetune,
        jobs,
        predict,
        prepare_models,
        prompt,
        run_job,
        runs,
        search,
        serve,
        worker,
    )

    return (baseline, compare, curve, data, demo, export, finetune, jobs, predict, prepare_models, prompt, run_job,
            runs, search, serve, worker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines",
                                     description="Text-classification model-comparison workbench")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # inside the try: a reader that went away is noticed here, not at exit
        return code
    except BrokenPipeError:
        # `python -m pipelines jobs list | head`: the reader closed the pipe. Stop quietly, as
        # cat and grep do; point stdout at /dev/null so the flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141  # 128 + SIGPIPE: what a shell reports for a command the pipe stopped


def _run(argv: list[str] | None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "codecarbon", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from .store_io import StoreError

    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError, KeyError, StoreError) as exc:
        if args.verbose:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder: one line naming the file
        if args.verbose or isinstance(exc, BrokenPipeError):
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; free space or fix the permissions, then retry", file=sys.stderr)
        return 2
