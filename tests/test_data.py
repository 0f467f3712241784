"""Data area: loading every format, each validation error's message, splits, hashes, stats, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import prepared
from pipelines.data import DataError, DataSpec, prepare, token_length_percentiles
from pipelines.data_io import read_table

REPO = Path(__file__).resolve().parent.parent
NEG_WORDS = ["dull", "boring", "awful", "tedious", "weak"]
POS_WORDS = ["great", "moving", "funny", "brilliant", "sharp"]


def reviews(n: int = 60, pos_share: float = 0.5) -> pd.DataFrame:
    """A small, deterministic two-class table with distinct texts."""
    n_pos = int(round(n * pos_share))
    rows = []
    for i in range(n):
        pos = i < n_pos
        word = (POS_WORDS if pos else NEG_WORDS)[i % 5]
        rows.append({"review": f"Film {i} was {word}, truly {word}.", "sentiment": "pos" if pos else "neg"})
    return pd.DataFrame(rows)


def spec(path: Path, **kw) -> DataSpec:
    kw.setdefault("text_column", ["review"])
    kw.setdefault("label_column", "sentiment")
    kw.setdefault("tokenizer", "none")
    return DataSpec(source=str(path), **kw)


def write_csv(path: Path, df: pd.DataFrame, **kw) -> Path:
    df.to_csv(path, index=False, **kw)
    return path


def all_texts(ds: prepared.PreparedDataset) -> dict[str, set]:
    return {s: set(ds.split(s)["text"]) for s in prepared.SPLITS}


# ----------------------------------------------------------------------------- formats
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet", "csv.gz"])
def test_file_formats_load_the_same_examples(tmp_path, fmt):
    df = reviews(40)
    path = tmp_path / f"reviews.{fmt}"
    if fmt in ("csv", "csv.gz"):
        df.to_csv(path, index=False)
    elif fmt == "tsv":
        df.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path)
    ds = prepare(spec(path, name=f"fmt-{fmt.replace('.', '-')}"))
    got = pd.concat([ds.train, ds.validation, ds.test]).sort_values("id")
    assert got["text"].tolist() == df["review"].tolist()
    assert got["label"].tolist() == df["sentiment"].tolist()
    assert got["id"].tolist() == list(range(1, 41))  # 1-based source rows
    assert ds.labels == ["neg", "pos"] and not ds.multi_label


def test_load_from_disk_folder_maps_class_label_names(tmp_path):
    import datasets

    df = reviews(40)
    feats = datasets.Features({"review": datasets.Value("string"),
                               "sentiment": datasets.ClassLabel(names=["neg", "pos"])})
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_pandas(df.iloc[:30], features=feats, preserve_index=False),
        "test": datasets.Dataset.from_pandas(df.iloc[30:], features=feats, preserve_index=False)})
    dd.save_to_disk(str(tmp_path / "hf data"))
    ds = prepare(spec(tmp_path / "hf data", name="hf-disk"))
    assert ds.labels == ["neg", "pos"]  # names, not ClassLabel ints
    assert sum(ds.info["sizes"].values()) == 40  # both saved splits, re-split by us


def test_multi_label_delimited_string_and_01_columns_agree(tmp_path):
    rng = np.random.default_rng(0)
    genres = ["Action", "Comedy", "Drama"]
    flags = rng.random((60, 3)) < 0.4
    titles = [f"Title number {i}" for i in range(60)]
    wide = pd.DataFrame({"title": titles, **{g: flags[:, j].astype(int) for j, g in enumerate(genres)}})
    joined = pd.DataFrame({"title": titles,
                           "genres": ["|".join(g for j, g in enumerate(genres) if row[j]) for row in flags]})
    a = prepare(spec(write_csv(tmp_path / "wide.csv", wide), name="ml-wide", text_column=["title"],
                     label_column=None, label_columns=genres))
    b = prepare(spec(write_csv(tmp_path / "joined.csv", joined), name="ml-joined", text_column=["title"],
                     label_column="genres", label_delimiter="|"))
    for ds in (a, b):
        assert ds.multi_label and ds.labels == genres
        assert ds.info["task"] == prepared.MULTI
    assert a.split_hash == b.split_hash  # same examples, same labels → the same split
    row = a.train.iloc[0]
    assert list(row["labels"]) == [g for j, g in enumerate(genres) if flags[row["id"] - 1, j]]
    # JSONL with label lists is multi-label too, with no option needed
    path = tmp_path / "lists.jsonl"
    path.write_text("\n".join(json.dumps({"title": t, "genres": g.split("|") if g else []})
                              for t, g in zip(titles, joined["genres"])))
    c = prepare(spec(path, name="ml-lists", text_column=["title"], label_column="genres"))
    assert c.split_hash == a.split_hash


def test_several_text_columns_are_joined(tmp_path):
    df = reviews(40)
    df.insert(0, "headline", [f"H{i}" for i in range(40)])
    ds = prepare(spec(write_csv(tmp_path / "two.csv", df), name="joined-text", text_column=["headline", "review"],
                      text_separator=" || "))
    first = pd.concat([ds.train, ds.test, ds.validation]).set_index("id").loc[1, "text"]
    assert first == "H0 || Film 0 was great, truly great."


def test_odd_file_names_with_spaces_and_unicode(tmp_path):
    path = write_csv(tmp_path / "Critiques été (v2).csv", reviews(40))
    ds = prepare(spec(path))
    assert ds.id == "critiques-ete-v2"
    assert prepared.load("critiques-ete-v2").split_hash == ds.split_hash


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + reviews(40).to_csv(index=False).encode())
    raw, _ = read_table(path)
    assert list(raw.columns) == ["review", "sentiment"]  # no "\ufeffreview"


# --------------------------------------------------------------------- validation errors
def test_missing_column_lists_available_ones(tmp_path):
    path = write_csv(tmp_path / "r.csv", reviews(20))
    with pytest.raises(DataError, match=r"column\(s\) 'body' not found; available columns: 'review', 'sentiment'"):
        prepare(spec(path, text_column=["body"]))
    semi = write_csv(tmp_path / "semi.csv", reviews(20), sep=";")
    with pytest.raises(DataError, match=r"the file looks ';'-separated: pass --delimiter ';'"):
        prepare(spec(semi, delimiter=","))  # a delimiter the user gave is used, and a wrong one is named


def test_a_semicolon_file_is_read_with_its_detected_delimiter(tmp_path):
    """Excel in many locales saves ';'-separated CSV: read as such, and said so, with no flag."""
    df = reviews(20)
    df.loc[0, "review"] = "a text, with commas, inside"
    semi = write_csv(tmp_path / "semi.csv", df, sep=";")
    report: dict = {}
    raw, _ = read_table(semi, report=report)
    assert list(raw.columns) == ["review", "sentiment"] and raw["review"][0] == "a text, with commas, inside"
    assert (report["delimiter"], report["delimiter_how"]) == (";", "detected")
    plain = write_csv(tmp_path / "plain.csv", df)
    assert read_table(plain, report=report)[0].shape == (20, 2) and report["delimiter"] == ","


def test_empty_texts_are_reported_then_dropped_on_request(tmp_path):
    df = reviews(40)
    df.loc[[2, 6], "review"] = ["", "   "]
    path = write_csv(tmp_path / "empty.csv", df)
    with pytest.raises(DataError, match=r"2 of 40 rows have an empty or whitespace-only text in column 'review' "
                                        r"\(rows 3, 7\).*--drop-empty"):
        prepare(spec(path))
    ds = prepare(spec(path, drop_empty=True, name="empty-dropped"))
    assert sum(ds.info["sizes"].values()) == 38
    assert ds.info["stats"]["cleaning"]["dropped_empty_text"] == 2


def test_missing_label_is_reported(tmp_path):
    df = reviews(40)
    df.loc[4, "sentiment"] = ""
    with pytest.raises(DataError, match=r"1 of 40 rows have no label in column 'sentiment' \(row 5\)"):
        prepare(spec(write_csv(tmp_path / "nolabel.csv", df)))


def test_one_class_only(tmp_path):
    path = write_csv(tmp_path / "one.csv", reviews(20, pos_share=1.0))
    with pytest.raises(DataError, match=r"only one class in column 'sentiment' \('pos' on 20 rows\)"):
        prepare(spec(path))


def test_classes_with_fewer_than_two_examples_are_named(tmp_path):
    df = reviews(40)
    df.loc[5, "sentiment"] = "mixed"
    df.loc[9, "sentiment"] = "meh"
    with pytest.raises(DataError, match=r"2 classes with fewer than 2 examples cannot be split into train and test: "
                                        r"'meh' \(row 10\), 'mixed' \(row 6\)"):
        prepare(spec(write_csv(tmp_path / "rare.csv", df)))


def test_non_utf8_file_is_detected_and_an_explicit_encoding_wins(tmp_path):
    """A code-page file is read in the detected encoding (recorded); a named encoding is used as given."""
    df = reviews(20)
    df.loc[3, "review"] = "Un film très réussi"
    path = tmp_path / "latin.csv"
    path.write_bytes(df.to_csv(index=False).encode("latin-1"))
    found: dict = {}
    raw, _ = read_table(path, report=found)
    assert raw.loc[3, "review"] == "Un film très réussi" and found["encoding_how"] == "detected"
    with pytest.raises(DataError, match=r"latin.csv is not valid utf-8: byte 0xe8 on line 5"):
        read_table(path, encoding="utf-8")
    with pytest.raises(DataError, match="unknown encoding 'latin-42'"):
        read_table(path, encoding="latin-42")
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes(df.to_csv(index=False).encode("utf-16"))
    raw, _ = read_table(utf16, report=found)
    assert raw.loc[3, "review"] == "Un film très réussi" and found["encoding_how"] == "bom"


def test_malformed_csv_reports_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("review,sentiment\ngood film,pos\nbad, really bad,neg\n")
    with pytest.raises(DataError, match=r"bad.csv: malformed line 3: 3 comma-separated fields, but the header has 2"):
        read_table(path)
    path.write_text('review,sentiment\ngood film,pos\n"never closed,neg\nok,pos\n')
    with pytest.raises(DataError, match=r"malformed line 3: unexpected end of data"):
        read_table(path)
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"review": "a", "sentiment": "pos"}\n{"review": "b" "sentiment": "neg"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl: line 2 is not valid JSON"):
        read_table(bad_json)


def test_file_too_large_and_unsupported_type(tmp_path):
    path = write_csv(tmp_path / "big.csv", reviews(200))
    with pytest.raises(DataError, match=r"big.csv is [\d.]+ MB, above the 0.001 MB limit.*--max-file-mb"):
        read_table(path, max_file_mb=0.001)
    xlsx = tmp_path / "sheet.xlsx"
    xlsx.write_bytes(b"PK")
    with pytest.raises(DataError, match=r"unsupported file type '.xlsx'"):
        read_table(xlsx)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_bad_01_flag_and_conflicting_options(tmp_path):
    df = pd.DataFrame({"title": [f"t{i}" for i in range(20)], "A": [1, 0] * 10, "B": ["0", "1"] * 9 + ["x", "1"]})
    path = write_csv(tmp_path / "flags.csv", df)
    with pytest.raises(DataError, match=r"label column 'B' must hold 0/1 flags; row 19 hold\(s\) 'x'"):
        prepare(spec(path, text_column=["title"], label_column=None, label_columns=["A", "B"]))
    with pytest.raises(DataError, match="not both"):
        prepare(spec(path, text_column=["title"], label_column="A", label_columns=["A", "B"]))
    with pytest.raises(DataError, match="bundled dataset with fixed columns; drop --text-column"):
        prepare(DataSpec(source="rotten_tomatoes", text_column=["x"]))


def test_duplicates_never_straddle_splits(tmp_path):
    df = reviews(60)
    dup = df.iloc[:12].copy()  # 12 exact duplicates (same label)
    conflict = pd.DataFrame({"review": ["Film 20 was great, truly great."] * 2, "sentiment": ["neg", "neg"]})
    tie = pd.DataFrame({"review": ["Torn.", "Torn."], "sentiment": ["pos", "neg"]})
    path = write_csv(tmp_path / "dups.csv", pd.concat([df, dup, conflict, tie], ignore_index=True))
    ds = prepare(spec(path, name="dups"))
    cleaning = ds.info["stats"]["cleaning"]
    assert cleaning["duplicates_removed"] == 12 + 2 + 2
    assert cleaning["duplicate_conflicts"] == 2 and cleaning["conflicts_dropped"] == 1
    texts = all_texts(ds)
    assert not (texts["train"] & texts["test"]) and not (texts["train"] & texts["validation"])
    assert not (texts["validation"] & texts["test"])
    merged = pd.concat([ds.train, ds.validation, ds.test]).set_index("text")
    assert merged.loc["Film 20 was great, truly great.", "label"] == "neg"  # majority of 3 copies (pos, neg, neg)
    assert "Torn." not in merged.index  # a tied vote cannot be resolved: dropped
    assert sum(ds.info["sizes"].values()) == 60


def test_changed_split_under_existing_id_needs_overwrite(tmp_path):
    path = write_csv(tmp_path / "v.csv", reviews(40))
    first = prepare(spec(path, name="versioned"))
    with pytest.raises(DataError, match=r"'versioned' already exists with split .*--overwrite"):
        prepare(spec(path, name="versioned", seed=7))
    second = prepare(spec(path, name="versioned", seed=7, overwrite=True))
    assert second.split_hash != first.split_hash
    assert prepared.load("versioned").split_hash == second.split_hash


# ------------------------------------------------------------------------ splits, hashes
def test_stratified_split_keeps_class_ratios_and_ids_disjoint(rt_small):
    sizes = rt_small.info["sizes"]
    assert sizes == {"train": 900, "validation": 180, "test": 120}
    overall = (pd.concat([rt_small.train, rt_small.validation, rt_small.test])["label"] == "negative").mean()
    assert 0.38 < overall < 0.46  # the corpus ratio (42% rotten) survives the subsample
    for s in prepared.SPLITS:
        share = (rt_small.split(s)["label"] == "negative").mean()
        assert abs(share - overall) < 0.01, (s, share, overall)
    ids = {s: set(rt_small.split(s)["id"]) for s in prepared.SPLITS}
    assert not (ids["test"] & ids["train"]) and not (ids["validation"] & ids["train"])
    assert not (ids["test"] & ids["validation"])


def test_iterative_stratification_keeps_label_prevalence(genres_small):
    ds = genres_small
    assert ds.multi_label and ds.labels == sorted(["Action", "Animation", "Comedy", "Documentary", "Drama",
                                                   "Romance", "Short"])
    assert sum(ds.info["sizes"].values()) == 1500
    full = np.concatenate([ds.label_matrix(ds.split(s)) for s in prepared.SPLITS]).mean(0)
    for s in prepared.SPLITS:
        prev = ds.label_matrix(ds.split(s)).mean(0)
        assert np.all(np.abs(prev - full) < 0.02), (s, prev, full)
    assert all(len(labs) > 0 for labs in ds.train["labels"])  # titles with no genre are dropped
    assert not set(ds.test["id"]) & set(ds.train["id"])


def test_same_spec_same_hash_and_reprepare_is_a_noop(tmp_path, rt_small, store):
    again = prepare("rotten_tomatoes", name="rt_small", max_rows=1200)
    assert again.split_hash == rt_small.split_hash
    meta = prepared.dataset_dir("rt_small") / "dataset.json"
    before = meta.stat().st_mtime_ns
    prepare("rotten_tomatoes", name="rt_small", max_rows=1200)
    assert meta.stat().st_mtime_ns == before  # nothing rewritten
    other_name = prepare("rotten_tomatoes", name="rt_small_copy", max_rows=1200, tokenizer="none")
    assert other_name.split_hash == rt_small.split_hash  # the hash is the content, not the name
    other_seed = prepare("rotten_tomatoes", name="rt_small_seed", max_rows=1200, seed=1, tokenizer="none")
    assert other_seed.split_hash != rt_small.split_hash
    row = store.dataset("rt_small")
    assert row["split_hash"] == rt_small.split_hash and row["n_train"] == 900


# ------------------------------------------------------------------------------- stats
def test_token_length_percentiles_match_the_tokenizer(rt_small):
    from transformers import AutoTokenizer

    from pipelines.assets import resolve_model

    texts = rt_small.train["text"].tolist()[:200]
    tok = AutoTokenizer.from_pretrained(resolve_model("minilm"))
    lengths = np.array([len(tok(t)["input_ids"]) for t in texts])
    got = token_length_percentiles(texts, "minilm")
    assert got["max"] == lengths.max() and got["n"] == 200
    assert got["p95"] == int(np.ceil(np.percentile(lengths, 95)))
    assert got["p50"] <= got["p90"] <= got["p95"] <= got["p99"] <= got["max"]
    stats = rt_small.info["stats"]
    assert stats["tokens"]["tokenizer"] == "minilm" and stats["tokens"]["train"]["n"] == 900
    assert stats["label_counts"]["train"]["negative"] + stats["label_counts"]["train"]["positive"] == 900
    assert 0 < stats["tokens"]["train"]["p95"] < 128  # critic snippets are short


# --------------------------------------------------------------------------------- CLI
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=REPO, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=120)


def test_cli_prepare_list_show_end_to_end(tmp_path, store):
    path = write_csv(tmp_path / "cli reviews.csv", reviews(80))
    res = _cli("data", "prepare", str(path), "--text-column", "review", "--label-column", "sentiment",
               "--name", "cli_small", "--seed", "3")
    assert res.returncode == 0, res.stderr
    row = store.dataset("cli_small")
    assert row is not None and row["n_train"] + row["n_validation"] + row["n_test"] == 80
    assert f"split hash  {row['split_hash']}" in res.stdout
    # the same spec prepared in this process gives the same hash (no per-process randomness)
    here = prepare(spec(path, name="cli_small_here", seed=3))
    assert here.split_hash == row["split_hash"]
    listed = _cli("data", "list")
    assert listed.returncode == 0 and "cli_small" in listed.stdout and row["split_hash"] in listed.stdout
    shown = _cli("data", "show", "cli_small")
    assert shown.returncode == 0
    assert "class balance" in shown.stdout and "token lengths (minilm" in shown.stdout
    assert "train 60, validation 12, test 8" in shown.stdout
    bad = _cli("data", "prepare", str(path), "--text-column", "body", "--label-column", "sentiment")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("error: cli reviews.csv: column(s) 'body' not found")
    assert "Traceback" not in bad.stderr
