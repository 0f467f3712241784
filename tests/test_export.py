"""dashboard.export: real image bytes from kaleido + Debian chromium, HTML, tables and the zip bundle."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile

import pandas as pd
import pytest

from dashboard import charts, export
from pipelines import compare, stats


def _ensure_chromium() -> None:
    """kaleido drives Debian's chromium; install it like the README's test command does when missing."""
    if shutil.which("chromium"):
        return
    if shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True, check=False,
                       capture_output=True, timeout=600)
    if not shutil.which("chromium"):
        pytest.fail("chromium is needed for image export: apt-get install -y chromium")


@pytest.fixture(scope="module")
def comp(two_runs):
    from pipelines.store import Store

    return compare.load_comparison(Store(), run_ids=two_runs.run_ids)


@pytest.fixture(scope="module")
def figures(comp):
    from pipelines.store import Store

    _ensure_chromium()
    a, b = comp.run_ids
    return charts.comparison_figures(comp, comp.history(Store()), charts.run_colors(comp.run_ids), pair=(a, b))


def test_comparison_has_every_chart(figures):
    assert list(figures) == ["pareto_energy", "pareto_latency", "pareto_size", "per_class_f1", "confusion_matrices",
                             "confusion_difference", "training_curves", "energy_co2"]


def test_chart_bytes_in_every_format(figures, comp):
    fig = figures["per_class_f1"]
    name = comp.label_of(comp.run_ids[0])
    png = export.figure_bytes(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == export.DEFAULT_WIDTH * export.PNG_SCALE  # print resolution
    svg = export.figure_bytes(fig, "svg").decode()
    assert "<svg" in svg[:300] and name in svg and "F1 score (0–1)" in svg
    pdf = export.figure_bytes(fig, "pdf")
    assert pdf[:5] == b"%PDF-" and len(pdf) > 2000
    html = export.figure_bytes(fig, "html").decode()
    assert "<html>" in html and "Plotly.newPlot" in html and name in html
    assert '<script src="http' not in html, "plotly.js is embedded: the file opens offline"
    assert export.figure_bytes(fig, "svg") is export.figure_bytes(fig, "svg"), "bytes are cached by content"
    with pytest.raises(ValueError, match="unknown chart format"):
        export.figure_bytes(fig, "gif")


def test_table_files(comp):
    files = export.table_files(comp)
    csv = pd.read_csv(io.BytesIO(files["metrics.csv"]))
    assert list(csv["run_id"]) == comp.run_ids and csv["accuracy"].tolist() == pytest.approx(
        comp.runs["accuracy"].tolist())
    assert files["metrics.md"].decode().count("\n| ") >= len(comp.run_ids) + 1
    assert b"\\begin{tabular}" in files["metrics.tex"]
    per_class = pd.read_csv(io.BytesIO(files["per_class_f1.csv"]), index_col=0)
    assert list(per_class.index) == comp.labels and set(per_class.columns) == set(comp.runs["label"])


def test_bundle_zip_holds_the_whole_comparison(comp, figures):
    a, b = comp.run_ids
    sig = stats.significance(comp, a, b, n_bootstrap=200)
    data = export.bundle_zip(comp, figures, significance=sig)
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = set(zf.namelist())
    for stem in figures:
        for fmt in export.FORMATS:
            assert f"charts/{stem}.{fmt}" in names
    assert "charts/plotly.min.js" in names
    assert zf.read("charts/pareto_energy.png")[:4] == b"\x89PNG"
    assert zf.read("charts/energy_co2.pdf")[:4] == b"%PDF"
    svg = zf.read("charts/per_class_f1.svg").decode()
    assert "<svg" in svg and comp.label_of(a) in svg
    assert 'src="plotly.min.js"' in zf.read("charts/per_class_f1.html").decode()
    for t in ("metrics.csv", "metrics.md", "metrics.tex", "metrics.json", "per_class_f1.csv"):
        assert f"tables/{t}" in names
    for rid in comp.run_ids:
        for f in ("config.json", "metrics.json", "emissions.csv"):
            assert f"runs/{rid}/{f}" in names
        assert json.loads(zf.read(f"runs/{rid}/metrics.json"))["accuracy"] == pytest.approx(
            comp.runs.at[rid, "accuracy"])
        assert zf.read(f"runs/{rid}/emissions.csv").decode().startswith("timestamp,project_name")
    assert json.loads(zf.read("significance.json"))["mcnemar"]["words"] == sig["mcnemar"]["words"]
    readme = zf.read("README.md").decode()
    assert comp.split_hash in readme and sig["mcnemar"]["words"] in readme
