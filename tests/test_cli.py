"""The command line's own plumbing: every command module loads (loudly), names match files, pipes close."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

import pytest

from pipelines import cli, commands
from pipelines.textout import format_table

COMMANDS_DIR = Path(commands.__file__).parent
NOT_COMMANDS = {"__init__", "common"}


def test_every_file_in_commands_is_a_command_module():
    files = {p.stem for p in COMMANDS_DIR.glob("*.py")} - NOT_COMMANDS
    assert {m.__name__.rsplit(".", 1)[1] for m in cli.command_modules()} == files


@pytest.mark.parametrize("module", cli.command_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_each_command_module_registers_the_command_named_after_it(module):
    sub = argparse.ArgumentParser().add_subparsers()
    module.register(sub)
    name = module.__name__.rsplit(".", 1)[1].replace("_", "-")
    assert any(n == name or n.startswith(name + "-") for n in sub.choices), list(sub.choices)


def test_a_broken_command_module_stops_the_cli_loudly(monkeypatch):
    # The module fails to import (as one with a missing dependency would): building the parser
    # must raise, not quietly offer a CLI without that command.
    monkeypatch.setitem(sys.modules, "pipelines.commands.serve", None)
    monkeypatch.delattr(commands, "serve", raising=False)
    with pytest.raises(ImportError):
        cli.build_parser()
    with pytest.raises(ImportError):
        cli.main(["runs", "list"])


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(monkeypatch, capsys):
    """`python -m pipelines jobs list | head`: no BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    pipe = open(write_end, "w")  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stdout", pipe)
    try:
        assert cli.main(["jobs", "list"]) == 141
        pipe.write("more output after the reader left\n")
        pipe.flush()  # stdout now points at /dev/null: no second error at exit
    finally:
        pipe.close()
    assert "Traceback" not in capsys.readouterr().err


def test_format_table_aligns_columns_and_marks_missing_values():
    text = format_table([{"run": "a", "f1": 0.912345, "n": None}, {"run": "bbbb", "f1": 0.5, "n": 12}],
                        right=["f1", "n"])
    assert text.splitlines() == ["run       f1   n",
                                 "----  ------  --",
                                 "a     0.9123   -",
                                 "bbbb     0.5  12"]
    assert format_table([]) == "(none)"
    assert format_table([], columns=["run", "f1"], empty=None).splitlines() == ["run  f1", "---  --"]


def test_command_modules_import_nothing_from_the_cli_module():
    # commands sit below the CLI: UserError lives in commands.common, the printer in textout
    for module in cli.command_modules():
        source = Path(module.__file__).read_text()
        assert "from ..cli import" not in source, module.__name__
    assert importlib.import_module("pipelines.commands.common").UserError is cli.UserError
