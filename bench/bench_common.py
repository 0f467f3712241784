"""What every benchmark does first: its own workspace (never the repo's), the Hub offline, quiet logs.

Imported by the scripts beside it (``python bench/<name>.py`` puts this folder on the path).
"""

from __future__ import annotations

import logging
import os
import tempfile


def bench_workspace(home: str | None, name: str, level: int = logging.INFO) -> str:
    """Point WORKBENCH_HOME at ``home`` or a new temporary folder; returns it."""
    os.environ["WORKBENCH_HOME"] = home or tempfile.mkdtemp(prefix=f"bench-{name}-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("codecarbon", "httpx", "filelock"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    return os.environ["WORKBENCH_HOME"]
