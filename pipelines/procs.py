"""Local processes the workbench starts and watches: the worker, the predictor service.

One place for "is this pid alive here?" and "start ``python -m pipelines …`` detached", used
by the worker command and the dashboard. Job liveness is *not* decided here: jobs are held
by leases in the store (a worker may run on another machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from . import paths


def pid_alive(pid: int | None) -> bool:
    """Is a process with this pid running on this machine (zombies count as dead)?"""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed but not yet reaped by its parent) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def spawn_detached(args: list[str], logfile: Path) -> subprocess.Popen:
    """Start ``python -m pipelines <args>`` in its own session (it outlives the caller), logging to ``logfile``."""
    paths.ensure_dirs()
    with open(logfile, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "pipelines", *args], cwd=paths.REPO_ROOT, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                env=os.environ.copy())
