"""Use the winner: a finished run labels an unlabelled file (CLI, job, dashboard).

The run is the test-only ``majority`` kind (a second to make, real run folder, real reload):
what is checked is the file path around it — the readers' checks, the text-column choice,
every class probability in the output, agreement with the run's own predictor, never
replacing a file, the job for large files and the Predict page's download bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import predict_file as pf
from pipelines.jobs import run_now
from pipelines.predictor import load_run_predictor
from tests.fixtures_data import quiet_store
from tests.kind_majority import majority_run

ENTRY = Path(__file__).resolve().parent.parent / "dashboard" / "Home.py"
TEXTS = ["A joyous, clever film.", "Tedious and far too long.", "", "Ça va, sans plus — «moyen»."]


@pytest.fixture()
def one_run(tmp_path, monkeypatch, rt_small):
    store = quiet_store(tmp_path, monkeypatch, rt_small, "predict")
    return store, majority_run(store, "winner")


def _file(tmp_path: Path) -> Path:
    src = tmp_path / "new texts.csv"
    pd.DataFrame({"ref": range(len(TEXTS)), "review": TEXTS}).to_csv(src, index=False, encoding="cp1252",
                                                                     errors="replace")
    return src


def test_cli_predicts_every_class_probability_and_never_overwrites(one_run, tmp_path, capsys, rt_small):
    from pipelines.cli import main

    store, run = one_run
    src = _file(tmp_path)  # a Windows code page and a text column not named "text": found all the same
    out = tmp_path / "out.csv"
    assert main(["predict", run["id"], str(src), "--out", str(out)]) == 0
    assert "text column 'review'" in capsys.readouterr().out
    got = pd.read_csv(out, encoding="utf-8-sig")
    probs = [f"p::{lab}" for lab in rt_small.labels]
    assert list(got.columns) == ["ref", "review", "prediction", *probs]
    full = [0, 1, 3]  # row 2 is an empty cell: no prediction rather than a guess from no words
    want = load_run_predictor(run["path"]).predict_proba([TEXTS[i] for i in full])
    np.testing.assert_allclose(got.loc[full, probs].to_numpy(), want, atol=1e-9)
    assert got.loc[full, "prediction"].tolist() == [rt_small.labels[i] for i in want.argmax(axis=1)]
    assert got.loc[2, probs].isna().all() and pd.isna(got.loc[2, "prediction"])
    assert got["review"].iloc[3].startswith("Ça va")
    before = out.read_bytes()
    assert main(["predict", run["id"], str(src), "--out", str(out)]) == 2  # the file exists: refused
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["predict", run["id"], str(src)]) == 0  # default: a new file under the workspace
    written = Path(capsys.readouterr().out.split(" to ")[1].split("\n")[0].strip())
    assert written.parent.name == "predictions" and written.read_bytes() == before
    assert main(["predict", "no-such-run", str(src)]) == 2
    assert main(["predict", run["id"], str(src), "--text-column", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err


def test_large_files_run_as_a_predict_job(one_run, tmp_path):
    from pipelines import kinds

    store, run = one_run
    assert kinds.get("predict") not in kinds.predicting()  # it makes no run
    src = _file(tmp_path)
    out = pf.default_output(run["id"], src)
    job = run_now("predict", pf.PredictConfig(run_id=run["id"], input=str(src), output=str(out)).to_dict(), store)
    assert job["status"] == "done" and job["run_id"] is None, job.get("error")
    assert len(pd.read_csv(out)) == len(TEXTS)
    again = run_now("predict", pf.PredictConfig(run_id=run["id"], input=str(src), output=str(out)).to_dict(), store)
    assert again["status"] == "failed" and "already exists" in again["error"]


@pytest.mark.slow
def test_predict_page_uploads_picks_a_run_and_offers_the_csv(one_run, tmp_path):
    from streamlit.testing.v1 import AppTest

    from dashboard import services
    from dashboard.predict_io import result_bytes

    store, run = one_run
    src = _file(tmp_path)
    try:
        at = AppTest.from_file(str(ENTRY), default_timeout=180).run()
        at.switch_page("views/predict.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.selectbox(key="predict_run").value == run["id"]
        at.file_uploader(key="predict_file").upload(src.name, src.read_bytes(), "text/csv")
        at.run()
        assert at.selectbox(key="predict_column").value == "review"
        at.button(key="predict_go").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        # the bytes the download button offers are built by this function, through the predictor service
        frame, column = pf.read_texts(src)
        data = result_bytes(store, run["id"], frame, column)
        assert at.session_state["predict_last"][3] == data
        got = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
        cli = tmp_path / "cli.csv"
        from pipelines.cli import main

        assert main(["predict", run["id"], str(src), "--out", str(cli)]) == 0
        pd.testing.assert_frame_equal(got, pd.read_csv(cli, encoding="utf-8-sig"), atol=1e-9)  # one answer
        assert set(got["prediction"].dropna()) <= set(run_labels(run))
    finally:
        services.stop_service(store)


def run_labels(run: dict) -> list[str]:
    from pipelines.runfolder import RunFolder

    return RunFolder(run["path"]).read_metrics()["labels"]
