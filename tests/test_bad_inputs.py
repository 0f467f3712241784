"""Bad inputs, as a hostile-but-honest user tries them: each is refused in one line that says
what to fix, and the store and every run folder stay byte-for-byte as they were.

Table-driven: every case builds its own file in ``tmp_path`` and runs the real CLI in-process
(``pipelines.cli.main``), or the dashboard's Data page through AppTest for the upload path.
No training: the workspace holds one prepared dataset and one run of the test-only
``majority`` kind (``tests/fixtures_faults.py``).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import sqlite3
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli import main
from tests.fixtures_faults import changed, snapshot, tiny_csv

MAX_ERROR_CHARS = 600  # one readable line; never a file's content


def _csv(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def _big_text(mb: int) -> bytes:
    row = b"a perfectly ordinary review of a film,pos\n"
    return b"text,label\n" + row * (mb * 1_000_000 // len(row) + 1)


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", "text,label\na,b\n")
    return buf.getvalue()


def _tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"text,label\na,b\n"
        info = tarfile.TarInfo("data.csv")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sqlite_bytes(d: Path) -> bytes:
    p = d / "db.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    return p.read_bytes()


def _parquet(d: Path, df: pd.DataFrame, name: str = "data.parquet") -> Path:
    p = d / name
    df.to_parquet(p)
    return p


def _write(name: str, data: bytes | Callable[[Path], bytes]) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        p = d / name
        p.write_bytes(data(d) if callable(data) else data)
        return p
    return make


GOOD_ROWS = [f"text {i},{'pos' if i % 2 else 'neg'}" for i in range(40)]

# (case id, file maker, extra flags, words the one-line error must contain)
FILE_CASES = [
    ("gzip-bomb", _write("bomb.csv.gz", gzip.compress(_big_text(8), 1)), ["--max-file-mb", "2"],
     ["expands to more than 2 MB when decompressed"]),
    ("bz2-bomb", _write("bomb.csv.bz2", bz2.compress(_big_text(4))), ["--max-file-mb", "1"], ["decompressed"]),
    ("xz-bomb", _write("bomb.jsonl.xz", lzma.compress(_big_text(4), preset=0)), ["--max-file-mb", "1"],
     ["decompressed"]),
    ("plain-too-big", _write("big.csv", _big_text(3)), ["--max-file-mb", "1"], ["above the 1 MB limit"]),
    ("nul-bytes", _write("nul.csv", b"\0" * 3_000_000), [], ["binary data", "NUL byte"]),
    ("nul-inside-gz", _write("nul.csv.gz", gzip.compress(b"\0" * 100_000)), [], ["binary data", "inside the .gz"]),
    ("zip-as-csv", _write("data.csv", _zip_bytes()), [], ["ZIP archive"]),
    ("zip-extension", _write("data.zip", _zip_bytes()), [], ["ZIP archive"]),
    ("xlsx", _write("sheet.xlsx", _zip_bytes()), [], ["ZIP archive", "CSV"]),
    ("pdf", _write("paper.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), [], ["PDF document"]),
    ("png", _write("shot.csv", b"\x89PNG\r\n\x1a\n" + b"\0" * 64), [], ["PNG image"]),
    ("jpeg", _write("photo.jsonl", b"\xff\xd8\xff\xe0" + b"\0" * 64), [], ["JPEG image"]),
    ("gif", _write("anim.tsv", b"GIF89a" + b"\0" * 64), [], ["GIF image"]),
    ("old-office", _write("old.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64), [], ["Microsoft Office"]),
    ("sqlite-as-csv", _write("db.csv", _sqlite_bytes), [], ["SQLite database"]),
    ("tar-as-csv", _write("data.csv", _tar_bytes()), [], ["tar archive"]),
    ("elf", _write("prog.csv", b"\x7fELF\x02\x01\x01" + b"\0" * 64), [], ["executable"]),
    ("gzip-without-suffix", _write("data.csv", gzip.compress(_csv(["text,label", *GOOD_ROWS]))), [],
     ["gzip-compressed", ".gz"]),
    ("not-gzip-with-gz", _write("data.csv.gz", _csv(["text,label", *GOOD_ROWS])), [], ["cannot decompress"]),
    ("parquet-as-csv", lambda d: _parquet(d, pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]}),
                                          "data.csv"), [], ["Parquet file", ".parquet"]),
    ("csv-as-parquet", _write("data.parquet", _csv(["text,label", *GOOD_ROWS])), [], ["not a Parquet file"]),
    ("parquet-struct-text", lambda d: _parquet(d, pd.DataFrame({
        "text": [{"x": str(i)} for i in range(40)], "label": ["a", "b"] * 20})), [],
     ["text column 'text'", "struct"]),
    ("parquet-struct-label", lambda d: _parquet(d, pd.DataFrame({
        "text": [f"t{i}" for i in range(40)], "label": [{"x": str(i % 2)} for i in range(40)]})), [],
     ["label column 'label'", "struct"]),
    ("parquet-list-of-structs-label", lambda d: _parquet(d, pd.DataFrame({
        "text": [f"t{i}" for i in range(40)], "label": [[{"x": "a"}] for _ in range(40)]})), [],
     ["label column 'label'", "list"]),
    ("jsonl-dict-text", _write("d.jsonl", "\n".join(json.dumps({"text": {"a": i}, "label": i % 2})
                                                    for i in range(40)).encode()), [], ["text column", "struct"]),
    ("jsonl-list-text", _write("d.jsonl", "\n".join(json.dumps({"text": ["a", str(i)], "label": i % 2})
                                                    for i in range(40)).encode()), [], ["text column", "a list"]),
    ("too-many-classes", _write("many.csv", _csv(["text,label"] + [f"t{i},c{i // 2}" for i in range(2004)])), [],
     ["1,002 distinct classes", "limit of 1,000"]),
    ("all-duplicates-tied", _write("dups.csv", _csv(["text,label"] + ["same text,pos", "same text,neg"] * 20)), [],
     ["duplicate", "nothing is left"]),
    ("all-duplicates-one-label", _write("dups.csv", _csv(["text,label"] + ["same,pos"] * 30 + ["other,neg"] * 30)),
     [], ["duplicate texts", "only one class" if False else "fewer than 2"]),
    ("huge-semicolon-header", _write("wide.csv", _csv(["x;" * 5000, "a;b"])), [], ["more than once", "distinct name"]),
    ("empty", _write("empty.csv", b""), [], ["is empty"]),
    ("header-only", _write("head.csv", b"text,label\n"), [], ["no data rows"]),
    ("unclosed-quote", _write("q.csv", _csv(["text,label", '"never closed,pos', *GOOD_ROWS])), [],
     ["malformed line 2"]),
    # a code-page or UTF-16 file is now read in its detected encoding (tests/test_own_data.py); naming a wrong one fails
    ("latin-1-read-as-utf-8", _write("l.csv", "text,label\ncaf\xe9,pos\n".encode("latin-1")), ["--encoding", "utf-8"],
     ["not valid utf-8", "--encoding"]),
    ("line-break-inside-field", _write("nl.csv", _csv(["text,label", *GOOD_ROWS[:20], "first line", "second,pos",
                                                        *GOOD_ROWS[20:]])), [],
     ["1 row contains a line break inside a field: row 21", "quotes"]),
    ("missing-label-column", _write("nl.csv", _csv(["text,category", *GOOD_ROWS])), [], ["'label'", "not found"]),
    ("missing-file", lambda d: d / "nope.csv", [], ["no such file"]),
    ("unknown-extension", _write("notes.txt", b"text,label\na,b\n"), [], ["unsupported file type"]),
    ("bad-flag-column", _write("f.csv", _csv(["text,a,b", *[f"t{i},1,maybe" for i in range(40)]])),
     ["--label-columns", "a", "b"], ["0/1 flags"]),
    ("one-class", _write("one.csv", _csv(["text,label", *[f"t{i},pos" for i in range(40)]])), [], ["only one class"]),
    ("json-array-non-object", _write("a.json", b'[{"text": "a", "label": "b"}, 3]'), [], ["item 2", "not an object"]),
    ("empty-texts", _write("e.csv", _csv(["text,label", *GOOD_ROWS, " ,pos"])), [], ["empty", "--drop-empty"]),
    ("bad-split-ratios", _write("s.csv", _csv(["text,label", *GOOD_ROWS])), ["--split", "0.5", "0.5", "0.5"],
     ["split ratios"]),
    ("max-rows-1", _write("s.csv", _csv(["text,label", *GOOD_ROWS])), ["--max-rows", "1"], ["max_rows"]),
    ("unknown-encoding", _write("s.csv", _csv(["text,label", *GOOD_ROWS])), ["--encoding", "klingon"],
     ["unknown encoding"]),
    ("too-few-rows", _write("few.csv", _csv(["text,label", "a,x", "b,x", "c,y", "d,y"])), [], ["split is empty"]),
    ("plain-folder", lambda d: (d / "folder").mkdir() or d / "folder", [], ["not a datasets.save_to_disk folder"]),
    ("duplicate-columns", _write("dc.csv", _csv(["text,label,text", "a,b,c"])), [], ["more than once"]),
    ("extra-fields", _write("x.csv", _csv(["text,label", "a,b,c,d", *GOOD_ROWS])), [], ["malformed line 2"]),
    ("name-without-letters", _write("s.csv", _csv(["text,label", *GOOD_ROWS])), ["--name", "!!!"],
     ["no usable characters"]),
    ("semicolon-file-read-as-comma", _write("semi.csv", _csv(["text;label", *[r.replace(",", ";") for r in GOOD_ROWS]])),
     ["--delimiter", ","], ["looks ';'-separated", "--delimiter"]),
]


def expect_one_line_error(capsys, argv: list[str], words: list[str], code: int = 2) -> str:
    rc = main(argv)
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == code, (rc, out[-500:], err[-2000:])
    assert "Traceback" not in err
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, err[-2000:]
    line = errors[0]
    assert len(line) < MAX_ERROR_CHARS, f"{len(line)} chars: {line[:300]}"
    for w in words:
        assert w in line, f"{w!r} not in: {line}"
    return line


@pytest.fixture()
def unchanged(workspace):
    """Asserts the store and every run folder are byte-for-byte what they were before the test."""
    before = snapshot(workspace["home"])
    yield workspace
    after = snapshot(workspace["home"])
    assert not changed(before, after), changed(before, after)


@pytest.mark.parametrize("make,flags,words", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_bad_data_file(make, flags, words, tmp_path, capsys, unchanged):
    path = make(tmp_path)
    expect_one_line_error(capsys, ["data", "prepare", str(path), "--tokenizer", "none", *flags], words)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# (case id, argv with {run}/{job}/{dataset} placeholders, words)
COMMAND_CASES = [
    ("finetune-unknown-model", ["finetune", "--dataset", "{dataset}", "--model", "no-such-model"],
     ["not installed", "minilm"]),
    ("finetune-llm-as-encoder", ["finetune", "--dataset", "{dataset}", "--model", "smollm2"], ["is an LLM"]),
    ("finetune-model-folder-without-config", ["finetune", "--dataset", "{dataset}", "--model", "{home}/data"],
     ["no config.json"]),
    ("finetune-epochs-1e9", ["finetune", "--dataset", "{dataset}", "--epochs", "1e9"], ["epochs"]),
    ("finetune-lr-inf", ["finetune", "--dataset", "{dataset}", "--learning-rate", "inf"], ["learning_rate"]),
    ("finetune-lr-nan", ["finetune", "--dataset", "{dataset}", "--learning-rate", "nan"], ["learning_rate"]),
    ("finetune-batch-0", ["finetune", "--dataset", "{dataset}", "--batch-size", "0"], ["batch_size"]),
    ("finetune-seed-negative", ["finetune", "--dataset", "{dataset}", "--seed=-1"], ["seed"]),
    ("finetune-unknown-dataset", ["finetune", "--dataset", "nope"], ["'nope' is not prepared"]),
    ("finetune-bad-country", ["finetune", "--dataset", "{dataset}", "--country-iso-code", "XXX"], ["XXX"]),
    ("prompt-encoder-as-llm", ["prompt", "--dataset", "{dataset}", "--model", "minilm"], ["not a causal LM"]),
    ("prompt-unknown-model", ["prompt", "--dataset", "{dataset}", "--model", "no-such-llm"], ["not installed"]),
    ("prompt-bad-device", ["prompt", "--dataset", "{dataset}", "--device", "tpu"], ["auto, cpu or cuda"]),
    ("prompt-max-test-negative", ["prompt", "--dataset", "{dataset}", "--max-test-samples=-5"],
     ["max_test_samples"]),
    ("prompt-k-0", ["prompt", "--dataset", "{dataset}", "--k", "0"], ["k"]),
    ("prompt-unknown-template", ["prompt", "--dataset", "{dataset}", "--template", "no-such-template"],
     ["no-such-template"]),
    ("jobs-retry-done", ["jobs", "retry", "{job}"], ["only failed or cancelled"]),
    ("jobs-retry-unknown", ["jobs", "retry", "99999"], ["no job 99999"]),
    ("jobs-cancel-unknown", ["jobs", "cancel", "99999"], ["no job 99999"]),
    ("runs-show-unknown", ["runs", "show", "no-such-run"], ["no-such-run"]),
    ("runs-delete-unknown", ["runs", "delete", "no-such-run"], ["no-such-run"]),
    ("compare-unknown-run", ["compare", "--runs", "no-such-run"], ["unknown run"]),
    ("compare-unknown-dataset", ["compare", "--dataset", "nope"], ["unknown dataset 'nope'"]),
    ("data-show-unknown", ["data", "show", "nope"], ["no prepared dataset 'nope'"]),
    ("shortlist-unknown-dataset", ["shortlist", "add", "nope", "minilm"], ["no prepared dataset 'nope'"]),
    ("export-card-unknown-run", ["export-card", "no-such-run"], ["no-such-run"]),
    ("export-card-not-fine-tuned", ["export-card", "{run}", "--out", "{tmp}/thesis"], ["no weights of its own"]),
    ("prepare-existing-name-other-split", ["data", "prepare", "{tmp}/other.csv", "--name", "{dataset}",
                                           "--tokenizer", "none"], ["already exists", "--overwrite"]),
]
if _cuda():  # the check is about a machine without a GPU
    COMMAND_CASES.append(("prompt-device-cuda-without-gpu", ["prompt", "--device", "cuda"], ["cuda"]))
else:
    COMMAND_CASES.append(("prompt-device-cuda-without-gpu", ["prompt", "--dataset", "{dataset}", "--device", "cuda"],
                          ["no CUDA GPU"]))


@pytest.mark.parametrize("argv,words", [c[1:] for c in COMMAND_CASES], ids=[c[0] for c in COMMAND_CASES])
def test_bad_command(argv, words, tmp_path, capsys, unchanged):
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "README.md").write_text("my thesis\n")
    tiny_csv(tmp_path / "other.csv", rows=44)
    values = {"run": unchanged["run_id"], "job": unchanged["job_id"], "dataset": unchanged["dataset"],
              "home": unchanged["home"], "tmp": str(tmp_path)}
    line = expect_one_line_error(capsys, [a.format(**values) for a in argv], words)
    assert (tmp_path / "thesis" / "README.md").read_text() == "my thesis\n"  # never touched
    assert "Traceback" not in line


def _damage(path: Path, data: bytes | None = None) -> Callable[[], None]:
    """Replace a run file by a truncated copy; returns the undo."""
    saved = path.read_bytes()
    path.write_bytes(saved[: len(saved) // 2] if data is None else data)
    return lambda: path.write_bytes(saved)


@pytest.mark.parametrize("argv", [["runs", "show", "{run}"], ["runs", "show", "{run}", "--json"],
                                  ["compare", "--runs", "{run}"]], ids=["runs-show", "runs-show-json", "compare"])
def test_truncated_metrics_names_the_file(argv, workspace, tmp_path, capsys):
    from pipelines.store import Store

    folder = Path(Store().run(workspace["run_id"])["path"])
    undo = _damage(folder / "metrics.json")
    try:
        before = snapshot(workspace["home"])
        rc = main([a.format(run=workspace["run_id"], tmp=tmp_path) for a in argv])
        out, err = capsys.readouterr()
        after = snapshot(workspace["home"])
    finally:
        undo()
    assert not changed(before, after)
    assert "Traceback" not in err
    if rc == 0:  # compare shows the run from the store summary, with a note naming the file
        assert "metrics.json" in out + err
    else:
        line = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert len(line) == 1 and "metrics.json" in line[0] and "not valid JSON" in line[0], err


def test_overwrite_with_runs_on_the_old_split_warns_and_compare_says_why(workspace, tmp_path, capsys, caplog):
    """`data prepare --overwrite` keeps the runs listed; Compare says they are on an older split."""
    from pipelines.data import prepare

    home = Path(workspace["home"])
    prepare(str(tiny_csv(tmp_path / "t2.csv")), name="tiny2", tokenizer="none")
    from pipelines.jobs import run_now

    job = run_now("majority", {"dataset": "tiny2", "speed_samples": 0})
    assert job["status"] == "done"
    caplog.clear()
    assert main(["data", "prepare", str(tiny_csv(tmp_path / "t3.csv", rows=50)), "--name", "tiny2", "--tokenizer",
                 "none", "--overwrite"]) == 0
    assert any("older split" in r.getMessage() or "previous split" in r.getMessage() for r in caplog.records)
    capsys.readouterr()
    assert main(["runs", "list", "--dataset", "tiny2"]) == 0
    assert job["run_id"] in capsys.readouterr().out
    line = expect_one_line_error(capsys, ["compare", "--dataset", "tiny2"], ["older split", job["run_id"]])
    assert "no runs on the current split" in line
    assert (home / "data" / "prepared" / "tiny2" / "dataset.json").exists()


def test_subset_runs_are_flagged_in_compare(workspace, capsys):
    """A run scored on part of the test split is named so in the table and a note."""
    from pipelines.jobs import run_now
    from pipelines.store import Store

    full = Store().run(workspace["run_id"])
    job = run_now("majority", {"dataset": workspace["dataset"], "speed_samples": 0, "run_name": "partial"})
    folder = Path(Store().run(job["run_id"])["path"])
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["test_subset"] = {"n": 7, "of": 12}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    try:
        assert main(["compare", "--runs", full["id"], job["run_id"]]) == 0
        out = capsys.readouterr().out
        assert "[7 of 12 test texts]" in out and "not comparable one-to-one" in out
    finally:
        main(["runs", "delete", job["run_id"]])
        capsys.readouterr()


# ------------------------------------------------------------------ dashboard upload path
UPLOAD_CASES = [
    ("gzip-bomb", "bomb.csv.gz", lambda d: gzip.compress(_big_text(60), 1), ["decompressed"]),
    ("zip", "data.csv", lambda d: _zip_bytes(), ["ZIP archive"]),
    ("nul-bytes", "nul.csv", lambda d: b"\0" * 2_000_000, ["binary data"]),
    ("pdf", "paper.csv", lambda d: b"%PDF-1.4\n" + b"x" * 100, ["PDF document"]),
    ("parquet-struct-label", "nested.parquet", lambda d: _parquet(d, pd.DataFrame({
        "text": [f"t{i}" for i in range(40)], "label": [{"x": str(i % 2)} for i in range(40)]})).read_bytes(),
     ["label column 'label'", "struct"]),
    ("too-many-classes", "many.csv", lambda d: _csv(["text,label"] + [f"t{i},c{i // 2}" for i in range(2004)]),
     ["limit of 1,000"]),
    ("all-duplicates", "dups.csv", lambda d: _csv(["text,label"] + ["same text,pos", "same text,neg"] * 20),
     ["duplicate"]),
    ("line-break-inside-field", "nl.csv", lambda d: _csv(["text,label", "first line", "second,pos", *GOOD_ROWS]),
     ["line break inside a field: row 1"]),
]


@pytest.mark.parametrize("name,make,words", [c[1:] for c in UPLOAD_CASES], ids=[c[0] for c in UPLOAD_CASES])
def test_bad_upload_in_the_dashboard(name, make, words, tmp_path, workspace):
    """The real upload widget: the page stores the file and shows the pipeline's one-line message."""
    from streamlit.testing.v1 import AppTest

    from pipelines import paths

    before = snapshot(workspace["home"], ui_state_ok=True)

    at = AppTest.from_file(str(paths.REPO_ROOT / "dashboard" / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    at.file_uploader(key="upload_file").upload(name, make(tmp_path), "application/octet-stream")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert len(errors[0]) < MAX_ERROR_CHARS and "\n" not in errors[0].strip(), errors[0][:300]
    for w in words:
        assert w in errors[0], errors[0]
    assert not changed(before, snapshot(workspace["home"], ui_state_ok=True))


def test_upload_names_that_differ_in_punctuation_keep_both(tmp_path):
    from dashboard.views.data import stored_name

    first = stored_name("my data.csv", b"text,label\na,b\n", tmp_path)
    (tmp_path / first).write_bytes(b"text,label\na,b\n")
    second = stored_name("my&data.csv", b"text,label\nc,d\n", tmp_path)
    assert first == "my_data.csv" and second != first and second.endswith(".csv")
    assert stored_name("my_data.csv", b"text,label\na,b\n", tmp_path) == first  # same content: same name
