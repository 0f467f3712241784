"""A user's own file, from upload to a prepared dataset (issue 11, items 1–3 and the descriptions of 4).

Every file is built here byte for byte (``tests/own_data_files.py``): a Windows code page
with curly quotes, bare carriage returns inside unquoted fields, HTML in texts. No training;
prepares use ``tokenizer="none"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import prepared
from pipelines.cli import main
from pipelines.data import DataError, DataSpec, load_examples, prepare
from pipelines.data_io import read_table
from pipelines.store import Store
from tests.own_data_files import tweet_rows, write_tweets_csv


def spec(path: Path, **kw) -> DataSpec:
    return DataSpec(source=str(path), text_column=["tweet"], label_column="sentiment", tokenizer="none", **kw)


def all_rows(ds: prepared.PreparedDataset) -> dict[int, tuple[str, str]]:
    return {int(i): (t, y) for s in prepared.SPLITS for i, t, y in zip(ds.split(s)["id"], ds.split(s)["text"],
                                                                       ds.split(s)["label"])}


# ----------------------------------------------------------------------------------- encoding
def test_cp1252_file_is_detected_and_read_right_and_an_override_wins(tmp_path):
    rows = tweet_rows(90, breaks=0, url_tail=0)
    path = write_tweets_csv(tmp_path / "tweets.csv", rows, encoding="cp1252")
    found: dict = {}
    raw, fmt = read_table(path, report=found)
    assert found["encoding"] == "cp1252" and found["encoding_how"] == "detected"
    assert list(raw["tweet"]) == [t for t, _ in rows]  # “curly quotes”, l’équipe, très: all as written
    raw, _ = read_table(path, encoding="cp1250", report=found)  # what the user picks is used as is
    assert found["encoding"] == "cp1250" and found["encoding_how"] == "given"
    assert "très" not in " ".join(raw["tweet"]) and "trčs" in " ".join(raw["tweet"])
    ds = prepare(spec(path, name="enc-tweets"))
    assert ds.info["source"]["encoding"] == "cp1252" and sorted(ds.labels) == ["negative", "neutral", "positive"]
    assert {t for t, _ in all_rows(ds).values()} == {t for t, _ in rows}


def test_utf8_stays_utf8_and_a_bom_names_utf16(tmp_path):
    rows = tweet_rows(30, breaks=0, url_tail=0)
    found: dict = {}
    read_table(write_tweets_csv(tmp_path / "u8.csv", rows, encoding="utf-8"), report=found)
    assert (found["encoding"], found["encoding_how"]) == ("utf-8", "utf-8")
    raw, _ = read_table(write_tweets_csv(tmp_path / "u16.csv", rows, encoding="utf-16"), report=found)
    assert found["encoding_how"] == "bom" and list(raw["tweet"]) == [t for t, _ in rows]


# -------------------------------------------------------------------- line breaks inside fields
@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf-rows", "lf-rows"])
def test_bare_carriage_returns_inside_fields_keep_every_row(tmp_path, newline):
    rows = tweet_rows(300, breaks=30, url_tail=10)
    path = write_tweets_csv(tmp_path / "cr.csv", rows, newline=newline)
    ds = prepare(spec(path, name=f"cr-{len(newline)}"))
    got = all_rows(ds)
    assert len(got) == 300  # not 336 rows, half of them without a label
    assert got == {i + 1: (t.replace("\r", "\n"), y) for i, (t, y) in enumerate(rows)}
    assert got[1][0].endswith("\nhttps://t.co/x0")  # the text keeps its first lines, not just the link
    assert ds.info["stats"]["cleaning"]["line_breaks_in_fields"] == 30


def test_a_break_that_cuts_rows_is_named_never_made_into_rows(tmp_path):
    """Rows end with \\r\\n and a bare \\n sits in an unquoted field: the rows are named, no --drop-empty advice."""
    rows = tweet_rows(60, breaks=0, url_tail=0)
    for i in (4, 17):
        rows[i] = (rows[i][0] + "\nsuite", rows[i][1])
    path = write_tweets_csv(tmp_path / "cut.csv", rows)
    with pytest.raises(DataError) as exc:
        load_examples(spec(path))
    msg = str(exc.value)
    assert "2 rows contain a line break inside a field: rows 5, 18" in msg
    assert "--drop-empty" not in msg and "quotes" in msg


# ------------------------------------------------------------------------------------- HTML
def _html_rows() -> list[tuple[str, str]]:
    rows = [(f"review {i} of a kettle, works well", "great" if i % 2 else "other") for i in range(40)]
    rows += [("Solid and cheap<br /><br />Would buy <a href=\"https://ex.com/k\">again</a>", "great"),
             ("Tom &amp; Jerry&#39;s favourite", "other"),
             ("Tom & Jerry's favourite", "other"),  # the same text once the entities are decoded
             ("fine kettle<br />", "great"), ("fine kettle", "great")]  # the same once the tag is gone
    return rows


def _jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows))
    return path


def test_html_is_stripped_by_default_before_dedupe_and_counted(tmp_path):
    path = _jsonl(tmp_path / "reviews.jsonl", _html_rows())
    ds = prepare(DataSpec(source=str(path), tokenizer="none", name="html-strip"))
    texts = {t for t, _ in all_rows(ds).values()}
    assert "Solid and cheap\n\nWould buy again" in texts
    assert not any("<" in t or "&amp;" in t or "&#39;" in t for t in texts)
    cleaning = ds.info["stats"]["cleaning"]
    assert (cleaning["html_texts"], cleaning["html_links"], cleaning["html_stripped"]) == (3, 1, True)
    assert cleaning["duplicates_removed"] == 2  # markup-only differences merged
    kept = prepare(DataSpec(source=str(path), tokenizer="none", name="html-keep", strip_html=False))
    assert "fine kettle<br />" in {t for t, _ in all_rows(kept).values()}
    assert kept.info["stats"]["cleaning"]["html_texts"] == 3 and kept.info["stats"]["cleaning"]["duplicates_removed"] == 0
    assert kept.split_hash != ds.split_hash
    assert main(["data", "prepare", str(path), "--tokenizer", "none", "--name", "html-cli", "--no-strip-html"]) == 0
    assert Store().dataset("html-cli")["split_hash"] == kept.split_hash


def test_a_file_without_markup_keeps_its_split_either_way(tmp_path):
    """Stripping that changes no text changes no hash: runs on such a file stay comparable."""
    path = _jsonl(tmp_path / "plain.jsonl", _html_rows()[:40])
    a = prepare(DataSpec(source=str(path), tokenizer="none", name="plain-a"))
    b = prepare(DataSpec(source=str(path), tokenizer="none", name="plain-b", strip_html=False))
    assert a.split_hash == b.split_hash and a.info["stats"]["cleaning"]["html_texts"] == 0


# ------------------------------------------------------------------------------- near-empty
def test_near_empty_texts_are_counted_and_kept(tmp_path):
    rows = _html_rows()[:40] + [("https://t.co/abc", "great"), ("@someone", "other"), ("!!! 😀😀", "great"),
                                ("@a https://t.co/x ...", "other"), ("10/10", "great")]
    ds = prepare(DataSpec(source=str(_jsonl(tmp_path / "ne.jsonl", rows)), tokenizer="none", name="near-empty"))
    assert ds.info["stats"]["cleaning"]["near_empty_texts"] == 4  # "10/10" has digits: something to read
    assert sum(ds.info["sizes"].values()) == 45


# ----------------------------------------------------------------------------- descriptions
def test_descriptions_are_stored_and_editable_without_touching_the_split(tmp_path, capsys):
    path = write_tweets_csv(tmp_path / "d.csv", tweet_rows(60, breaks=0, url_tail=0))
    ds = prepare(spec(path, name="described", description="tweets about trains",
                      label_description=["negative=a complaint", "positive=praise"]))
    info = json.loads((prepared.dataset_dir("described") / "dataset.json").read_text())
    assert info["description"] == "tweets about trains"
    assert info["label_descriptions"] == {"negative": "a complaint", "positive": "praise"}
    new = prepared.set_descriptions("described", "tweets to a train company", {"neutral": "neither", "positive": ""})
    assert new["label_descriptions"] == {"negative": "a complaint", "neutral": "neither"}
    assert new["split_hash"] == ds.split_hash and prepared.load("described").split_hash == ds.split_hash
    assert Store().dataset("described")["info"]["description"] == "tweets to a train company"
    with pytest.raises(DataError, match="'joy'.*its labels are negative, neutral, positive"):
        prepared.set_descriptions("described", label_descriptions={"joy": "happy"})
    assert main(["data", "describe", "described", "--label-description", "neutral=no opinion"]) == 0
    assert "neutral: no opinion" in capsys.readouterr().out
    again = prepare(spec(path, name="described"))  # re-preparing the same spec keeps the edited words
    assert again.info["label_descriptions"]["neutral"] == "no opinion" and again.split_hash == ds.split_hash
    with pytest.raises(DataError, match="LABEL=TEXT"):
        DataSpec(source=str(path), label_description=["no equals sign"])


# ------------------------------------------------------------------------------ the Data page
def test_data_page_upload_detects_encoding_previews_and_prepares(tmp_path):
    """Upload a cp1252 CSV with carriage returns in fields and HTML: encoding and preview show, columns are
    picked from the parsed ones, and Save prepares it with the page's options."""
    from streamlit.testing.v1 import AppTest

    from pipelines import paths

    rows = tweet_rows(300, breaks=30, url_tail=10, html=12)
    data = write_tweets_csv(tmp_path / "x.csv", rows).read_bytes()
    at = AppTest.from_file(str(paths.REPO_ROOT / "dashboard" / "Home.py"), default_timeout=120)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    at.file_uploader(key="upload_file").upload("my tweets.csv", data, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = " ".join(str(c.value) for c in at.caption)
    assert "**cp1252** (detected)" in captions and "30 rows hold a carriage return" in captions
    assert any("300 rows · 2 columns" in str(m.value) for m in at.markdown)
    assert at.multiselect(key="up_text").value == ["tweet"]  # guessed: the longest strings
    assert at.selectbox(key="up_lcol").value == "sentiment"  # guessed: fewest distinct values
    at.selectbox(key="up_lcol").set_value("sentiment")
    at.selectbox(key="up_tokenizer").set_value("none")
    at.text_input(key="up_description").input("tweets about trains")
    at.text_input(key="up_ldesc_negative").input("a complaint")
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert any("300 examples, 3 labels" in str(s.value) for s in at.success)
    infos = " ".join(str(i.value) for i in at.info)
    assert "12 texts had HTML markup" in infos and "stripped" in infos
    next(b for b in at.button if b.label.startswith("Save as `my-tweets`")).click().run(timeout=300)
    assert not at.error, [e.value for e in at.error]
    row = Store().dataset("my-tweets")
    assert row and row["labels"] == ["negative", "neutral", "positive"]
    assert row["n_train"] + row["n_validation"] + row["n_test"] == 300
    assert row["info"]["source"]["encoding"] == "cp1252"
    assert row["info"]["description"] == "tweets about trains"
    assert row["info"]["label_descriptions"] == {"negative": "a complaint"}


def test_a_second_upload_starts_from_its_own_column_guesses(tmp_path):
    """Columns picked for one file never carry over to the next (a stale pick is not among its columns)."""
    from streamlit.testing.v1 import AppTest

    from pipelines import paths

    first = tmp_path / "first.csv"
    first.write_text("body,category\n" + "".join(f"some text number {i},{'ab'[i % 2]}\n" for i in range(40)))
    second = write_tweets_csv(tmp_path / "y.csv", tweet_rows(60, breaks=0, url_tail=0, html=0)).read_bytes()
    at = AppTest.from_file(str(paths.REPO_ROOT / "dashboard" / "Home.py"), default_timeout=120)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    at.file_uploader(key="upload_file").upload("first.csv", first.read_bytes(), "text/csv")
    at.run()
    assert at.multiselect(key="up_text").value == ["body"]
    at.file_uploader(key="upload_file").upload("second tweets.csv", second, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="up_text").value == ["tweet"] and at.selectbox(key="up_lcol").value == "sentiment"
