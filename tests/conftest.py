"""Shared test set-up: loopback only, a fresh workspace per session, weights cached once.

Every test talks to 127.0.0.1 at most: Hub telemetry off and the Hub offline unless a test
points HF_ENDPOINT at its own fake server. Converted model weights live in the repo's
``models/cache`` (WORKBENCH_MODEL_CACHE) so they are built once per machine, while
datasets, runs and the store live in a temporary WORKBENCH_HOME per test session.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["WANDB_DISABLED"] = "true"
# the test-only run kind, known to every process the tests start (a job's own process too)
os.environ["WORKBENCH_KIND_MODULES"] = "tests.kind_majority"
os.environ.setdefault("WORKBENCH_MODEL_CACHE", str(REPO / "models" / "cache"))
_HOME = tempfile.mkdtemp(prefix="workbench-test-")
os.environ["WORKBENCH_HOME"] = _HOME
os.environ["HF_HOME"] = str(Path(_HOME) / "hf-home")

import pytest  # noqa: E402

# Area fixtures live in their own modules so each area owns its file.
pytest_plugins = [
    "tests.fixtures_data",
    "tests.fixtures_runs",
    "tests.fixtures_hub",
    "tests.fixtures_compare",
    "tests.fixtures_faults",
]


def pytest_sessionfinish(session, exitstatus):
    """Remove the test workspace (about 2 GB: trained runs, ONNX exports, converted models): left behind,
    eight runs of the suite filled this machine's disk. WORKBENCH_KEEP_TEST_HOME=1 keeps it for a look (the
    browser test's screenshots are in it); its path is printed either way."""
    import shutil

    if os.environ.get("WORKBENCH_KEEP_TEST_HOME") == "1":
        print(f"\ntest workspace kept: {_HOME}")
    else:
        shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def workbench_home() -> Path:
    return Path(_HOME)


@pytest.fixture()
def store():
    from pipelines.store import Store

    return Store()


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread while an LLM module runs: on the shared 2-core test machine, two OpenMP
    threads wait on each other whenever another process holds a core (measured 8× slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
