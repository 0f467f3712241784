"""CLI subcommands; see pipelines/cli.py."""
