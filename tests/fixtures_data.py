"""Dataset fixtures (owned by the data area), shared by every area's tests.

Both are real prepared datasets in the session's WORKBENCH_HOME, registered in its store,
prepared through the same ``pipelines.data.prepare`` path as the CLI. Deterministic (seed
42, fixed names) and cheap: a few seconds, most of it importing the tokenizer once.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def rt_small():
    """Rotten Tomatoes, 1,200 snippets (class ratio kept, ~42% negative): 900/180/120.

    Returns a ``PreparedDataset`` with id "rt_small".
    """
    from pipelines.data import prepare

    return prepare("rotten_tomatoes", name="rt_small", max_rows=1200)


@pytest.fixture(scope="session")
def genres_small():
    """ggplot2movies titles → 7 genre flags (multi-label), 1,500 titles: ~1,125/225/150.

    Returns a ``PreparedDataset`` with id "genres_small".
    """
    from pipelines.data import prepare

    return prepare("movie_genres", name="genres_small", max_rows=1500)


def prepare_named(name: str, tmp_dir):
    """A tiny prepared dataset called ``name`` (no tokenizer): for tests that only need a dataset to exist,
    e.g. shortlists, which refuse a dataset the workspace does not know."""
    from pipelines.data import prepare
    from tests.fixtures_faults import tiny_csv

    return prepare(str(tiny_csv(tmp_dir / f"{name}.csv")), name=name, tokenizer="none")


def quiet_store(tmp_path, monkeypatch, dataset, name: str):
    """A store of its own (WORKBENCH_STORE) holding ``dataset`` and a registered live 'worker' (this
    process), so jobs a test queues stay queued: no worker of the session picks them up and trains."""
    import os

    from pipelines.store import Store

    path = tmp_path / f"{name}.sqlite"
    monkeypatch.setenv("WORKBENCH_STORE", str(path))
    store = Store(path)
    store.upsert_dataset(dataset.info)
    store.put("worker", "current", {"pid": os.getpid(), "started_at": 0})
    return store


def runs_page(dataset: str = "rt_small"):
    """An AppTest of the dashboard opened on the Runs page for ``dataset``, as a user gets there from Home."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "Home.py"), default_timeout=120)
    at.query_params.update({"dataset": dataset})
    at.run()
    at.switch_page("views/runs.py")
    at.query_params.update({"dataset": dataset})
    at.run()
    return at
