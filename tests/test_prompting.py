"""LLM baselines with the real SmolLM2-135M-Instruct on small real datasets.

What could break and is checked: label-scoring probabilities (valid, better than the
majority class), the KV-cached head giving the same scores as no reuse, few-shot prompts
(k per class, train only), generate-and-parse accounting of invalid answers and retries,
resuming a crashed run without recomputing finished chunks, multi-label per-label metrics
and rebuilding a run's predictor from its folder. The CLI's part is in tests/test_prompt_cli.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pipelines import runs
from pipelines.configs import PromptConfig
from pipelines.jobs import execute, run_now
from pipelines.metrics import compute_metrics
from pipelines.prompt_facts import DatasetFacts, dataset_facts
from pipelines.prompting import PromptPredictor, load_predictor
from pipelines.prompting_templates import (
    TEMPLATE_DIR,
    PromptBuilder,
    default_template_name,
    list_templates,
    load_template,
    parse_answer,
    resolve_template,
    select_examples,
)

FAST = {"max_text_tokens": 48, "speed_samples": 0, "batch_size": 16}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def smollm():
    from pipelines.llm import CausalLM

    return CausalLM.load("smollm2", device="cpu")


def _run(store, **cfg) -> tuple[dict, Path]:
    job = run_now("prompt", PromptConfig(**cfg).to_dict(), store)
    assert job["status"] == "done", job.get("error")
    return job, Path(store.run(job["run_id"])["path"])


# ----------------------------------------------------------------------- templates
def test_shipped_templates_cover_both_tasks_and_modes():
    tpls = list_templates()
    for task in ("single_label", "multi_label"):
        for mode in ("zero", "few"):
            assert sum(t.task == task and mode in t.modes for t in tpls) >= 2, (task, mode)


@pytest.mark.parametrize("chat", [False, True], ids=["plain", "chat-turns"])
def test_few_shot_prompt_has_k_examples_per_class_from_train_only(rt_small, smollm, chat):
    k = 3
    tpl = load_template("review")
    examples = select_examples(rt_small.train, rt_small.labels, k, seed=7, multi_label=False)
    builder = PromptBuilder(tpl, rt_small.labels, False, examples, chat=smollm.chat_prompt if chat else None)
    head = builder.heads[0]
    # both surface forms of each label word are scored and summed into that label
    assert builder.continuations == (" negative", " Negative", " positive", " Positive")
    assert builder.continuation_answer == [0, 0, 1, 1]
    # Parse the rendered prompt itself: every "Review: …\nSentiment: <word>" block is one example
    # (chat: the review is a user turn, "Sentiment: <word>" the assistant's reply).
    turn = r"<\|im_end\|>\n<\|im_start\|>assistant\n" if chat else r"\n"
    blocks = re.findall(r"Review: (.*?)" + turn + r"Sentiment: (\w+)", head, flags=re.S)
    assert len(blocks) == k * len(rt_small.labels)
    assert head.count("Sentiment:") == len(blocks) and head.count("Review:") == len(blocks) + 1  # + the query
    assert {w: sum(b[1] == w for b in blocks) for w in ("positive", "negative")} == {"positive": k, "negative": k}
    train_texts = set(rt_small.train["text"])
    assert all(text in train_texts for text, _ in blocks)
    assert not any(t in head for t in rt_small.test["text"] if len(t) > 20)
    if chat:
        assert head.count("<|im_start|>assistant") == len(blocks) and head.endswith("Review: ")
    assert {ex["id"] for ex in examples} <= set(rt_small.train["id"])
    # Seeded: same seed, same prompt; order shuffled rather than grouped by class for some seed.
    assert select_examples(rt_small.train, rt_small.labels, k, seed=7, multi_label=False) == examples
    orders = [[ex["label"] for ex in select_examples(rt_small.train, rt_small.labels, k, s, False)] for s in range(6)]
    assert any(o != sorted(o) and o != sorted(o, reverse=True) for o in orders)


def test_multilabel_examples_are_k_yes_and_k_no_per_label(genres_small):
    ex = select_examples(genres_small.train, genres_small.labels, 1, seed=0, multi_label=True)
    builder = PromptBuilder(load_template("yesno"), genres_small.labels, True, ex)
    assert len(builder.heads) == len(genres_small.labels)
    for lab, head in zip(genres_small.labels, builder.heads):
        assert f'"{lab.lower()}"' in head
        assert head.count("Answer: yes") == 1 and head.count("Answer: no") == 1
        mine = [e for e in ex if e["label"] == lab]
        rows = genres_small.train.set_index("id").loc[[e["id"] for e in mine], "labels"]
        assert [lab in r for r in rows] == [e["answer"] == "yes" for e in mine]


def test_default_template_follows_what_the_dataset_says(rt_small):
    reviews = dataset_facts(rt_small.info)  # bundled Rotten Tomatoes describes itself as critics' reviews
    assert reviews.about_reviews
    assert default_template_name("single_label", ["negative", "positive"], reviews) == "review"
    tweets = DatasetFacts("tweets", "Tweets about airlines.")
    assert default_template_name("single_label", ["negative", "positive"], tweets) == "dataset"
    assert default_template_name("single_label", ["negative", "positive"]) == "dataset"  # says nothing: no reviews
    assert default_template_name("single_label", ["business", "sport", "tech"], reviews) == "dataset"
    assert default_template_name("multi_label", ["Action", "Drama"]) == "yesno"


def test_prompt_is_worded_from_the_dataset_description_and_label_descriptions(rt_small):
    info = {"id": "tw", "name": "airline_tweets", "source": {"kind": "file"},
            "description": "Tweets written to US airlines by their passengers",
            "label_descriptions": {"neg": "negative", "neu": "neutral", "pos": "positive"}}
    facts = dataset_facts(info)
    tpl = resolve_template(None, "single_label", "zero", ["neg", "neu", "pos"], facts)
    builder = PromptBuilder(tpl, ["neg", "neu", "pos"], False, facts=facts)
    head = builder.heads[0]
    assert tpl.name == "dataset" and "movie" not in head.lower() and "review" not in head.lower()
    assert '"airline tweets"' in head and "Tweets written to US airlines by their passengers." in head
    # one-word label descriptions are the answer words (one place for what a label means)
    assert builder.answers == ["negative", "neutral", "positive"] and "negative, neutral, positive" in head
    # longer ones are explained in the prompt; the labels stay the answers
    info2 = {**info, "label_descriptions": {"great": "4 or 5 stars", "other": "1 to 3 stars"}}
    facts2 = dataset_facts(info2)
    b2 = PromptBuilder(resolve_template(None, "single_label", "zero", ["great", "other"], facts2), ["great", "other"],
                       False, facts=facts2)
    assert "- great: 4 or 5 stars\n- other: 1 to 3 stars" in b2.heads[0] and b2.answers == ["great", "other"]
    # no description at all: no empty line left where it would have been
    bare = PromptBuilder(load_template("dataset"), ["great", "other"], False, facts=DatasetFacts("shop"))
    assert bare.heads[0].startswith('These texts come from the dataset "shop".\nClassify the text')
    # Rotten Tomatoes keeps its measured review prompt exactly (its labels' descriptions are not one word)
    rt = dataset_facts(rt_small.info)
    assert (PromptBuilder(load_template("review"), rt_small.labels, False, facts=rt).heads
            == PromptBuilder(load_template("review"), rt_small.labels, False).heads)


def test_preview_renders_the_exact_prompt_and_accepts_edited_yaml(rt_small):
    from pipelines.prompt_preview import render, template_text

    name, source = template_text({"mode": "few", "k": 1}, rt_small)
    assert name == "review" and source == (TEMPLATE_DIR / "review.yaml").read_text()
    prompt, answers = render({"mode": "few", "k": 1, "seed": 3}, rt_small, text="A fine film.")
    examples = select_examples(rt_small.train, rt_small.labels, 1, 3, False)
    assert all(ex["text"] in prompt for ex in examples) and prompt.endswith("Review: A fine film.\nSentiment:")
    assert answers == ["negative", "positive"]
    edited = source.replace("name: review", "name: my-wording").replace("Read the movie review", "Judge the snippet")
    cfg = PromptConfig(dataset="rt_small", template=edited).to_dict()  # the job config carries the text itself
    assert render(cfg, rt_small, text="x")[0].startswith("Judge the snippet")
    assert load_template(cfg["template"]).name == "my-wording"


def test_verbalizers_of_every_label_are_shown_and_edited_into_the_template(rt_small):
    """The Runs page's per-label answer words (any number of classes) land in the template's ``verbalizers``."""
    from pipelines.prompt_preview import label_words, render, with_verbalizers

    assert list(label_words({"mode": "zero"}, rt_small).values()) == ["negative", "positive"]
    source = (TEMPLATE_DIR / "review.yaml").read_text()  # has a verbalizers block of its own: replaced, not doubled
    words = {lab: w for lab, w in zip(rt_small.labels, ("awful", "great"))}
    edited = with_verbalizers(source, words)
    assert edited.count("verbalizers:") == 1 and "Read the movie review" in edited
    cfg = {"mode": "zero", "template": edited}
    assert label_words(cfg, rt_small) == words and render(cfg, rt_small)[1] == ["awful", "great"]
    five = {f"topic_{i}": f"w{i}" for i in range(5)}  # k > 2 classes, on a template without verbalizers
    tpl = load_template(with_verbalizers((TEMPLATE_DIR / "dataset.yaml").read_text(), five))
    assert PromptBuilder(tpl, list(five), False).verbalizers == list(five.values())


def test_derived_defaults_follow_the_mode_and_the_number_of_classes():
    from pipelines.prompt_defaults import GEMMA, SMOLLM2, default_calibration, default_model

    assert default_calibration("zero", "label")[0] is True
    calibrate, why = default_calibration("few", "label", ["neg", "pos"])
    assert calibrate is True and "0.405 → 0.878" in why  # uncalibrated two-class few-shot collapsed on news
    assert default_calibration("few", "label", ["a", "b", "c"])[0] is True
    assert default_calibration("few", "label", ["a", "b", "c"], multi_label=True)[0] is True
    assert default_calibration("zero", "generate")[0] is False  # no probabilities to calibrate
    assert default_model(["neg", "pos"], False)[0] == SMOLLM2  # zero-shot, two answers: no consistent winner
    assert default_model(list("abcdef"), True)[0] == SMOLLM2  # multi-label: yes/no questions, the binary choice
    model, why = default_model(["neg", "pos"], False, "few")
    assert model == SMOLLM2 and "0.802 vs 0.703" in why  # few-shot, calibrated: best on average and worst case
    assert default_model(list("abcdef"), True, "few")[0] == GEMMA  # multi-label few-shot: Gemma measured best
    model, why = default_model(["a", "b", "c"], False)
    assert model == GEMMA and "3" in why  # zero-shot above two classes: Gemma
    assert default_model(["a", "b", "c"], False, "few")[0] == SMOLLM2  # few-shot above two: SmolLM2, 11x faster
    assert PromptConfig.from_dict({"dataset": "x", "calibrate": False}).calibrate is False  # stored configs load


def test_demo_presets_leave_model_and_calibration_derived_off_the_demo_dataset(rt_small):
    import json

    from pipelines.prepared import dataset_dir
    from pipelines.prompting import demo_prompt_configs

    folder = dataset_dir("three_topics_preset")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.json").write_text(json.dumps({"task": "single_label", "labels": ["a", "b", "c"]}))
    many = demo_prompt_configs("three_topics_preset")
    assert [(c["mode"], c["model"], c["calibrate"], c["run_name"]) for c in many] == [
        ("zero", PromptConfig.model, None, None), ("few", PromptConfig.model, None, None)]
    two = demo_prompt_configs(rt_small.id)  # a two-class set other than the demo's own: derived too
    assert [(c["model"], c["calibrate"]) for c in two] == [(None, None), (None, None)]


def test_max_test_samples_scores_a_stratified_sample_not_the_first_texts():
    import pandas as pd

    from pipelines.prompting import scored_test

    test = pd.DataFrame({"id": range(100), "text": [f"t{i}" for i in range(100)],
                         "label": ["a"] * 40 + ["b"] * 40 + ["c"] * 20})  # sorted by label, as bbc_news's split is
    sub = scored_test(test, 30, False)
    assert sub["label"].value_counts().to_dict() == {"a": 12, "b": 12, "c": 6}
    assert sub["id"].is_monotonic_increasing and sub.equals(scored_test(test, 30, False))
    assert scored_test(test, None, False) is test


def test_bad_template_and_config_errors_are_precise(rt_small, tmp_path):
    with pytest.raises(ValueError, match="multi_label datasets"):
        resolve_template("yesno", "single_label", "zero")
    with pytest.raises(FileNotFoundError, match="shipped templates: .*classify"):
        load_template("no_such_template")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntask: single_label\ninstruction: x\ninput: 'no placeholder'\nanswer: 'A: {answer}'\n")
    with pytest.raises(ValueError, match=r"needs \{text\}"):
        load_template(str(bad))
    with pytest.raises(ValueError, match="fewer than k=9999"):
        select_examples(rt_small.train, rt_small.labels, 9999, seed=0, multi_label=False)


def test_parse_answer_rule():
    choices = ["negative", "positive", "very positive"]
    assert parse_answer(" Positive.", choices) == 1
    assert parse_answer("negative, not positive", choices) == 0  # earliest match wins
    assert parse_answer("Very positive!", choices) == 2  # longer phrase at the same position
    assert parse_answer("\n\npositive\nnegative", choices) == 1  # first non-empty line only
    assert parse_answer("positively great", choices) is None  # whole words only
    assert parse_answer("Review: great film\nSentiment: positive", choices) is None
    assert parse_answer("", choices) is None


# --------------------------------------------------------------- generate and parse
def test_generate_mode_counts_junk_invalid_and_stops_after_retries(rt_small):
    calls: list[tuple[int, bool, int]] = []
    texts = rt_small.test["text"].head(6).tolist()

    def junk(prompts, sample, seed):
        calls.append((len(prompts), sample, seed))
        # the text at index 1 answers properly on its second attempt; everything else is junk
        return ["positive" if (texts[1] in p and len(calls) == 2) else "¯\\_(ツ)_/¯ maybe" for p in prompts]

    builder = PromptBuilder(load_template("review"), rt_small.labels, False)
    pred = PromptPredictor(None, builder, scoring="generate", max_retries=2, seed=5, generator=junk)
    out = pred.predict_detailed(texts)
    assert calls == [(6, False, 5), (6, True, 6), (5, True, 7)]  # greedy, then 2 sampled retries, new seeds
    assert out.invalid.tolist() == [True, False, True, True, True, True]
    assert out.attempts.tolist() == [3, 2, 3, 3, 3, 3]
    assert np.isnan(out.proba[out.invalid]).all() and out.proba[1].tolist() == [0.0, 1.0]
    gold = rt_small.test["label"].head(6).tolist()
    m = compute_metrics(gold, out.proba, rt_small.labels, False, invalid=out.invalid)
    assert m["n_invalid"] == 5 and m["invalid_rate"] == pytest.approx(5 / 6)
    assert m["accuracy"] == pytest.approx(float(gold[1] == "positive") / 6)  # junk never maps to a class


def test_generate_mode_with_real_model_parses_or_flags(smollm, rt_small):
    builder = PromptBuilder(load_template("review"), rt_small.labels, False, chat=smollm.chat_prompt)
    pred = PromptPredictor(smollm, builder, scoring="generate", max_new_tokens=4, max_retries=1)
    texts = rt_small.test["text"].head(6).tolist()
    out = pred.predict_detailed(texts)
    for answer, bad, row in zip(out.answers, out.invalid, out.proba):
        hit = pred._parse(answer)
        assert bad == (hit is None)
        if not bad:
            assert row[hit] == 1.0 and row.sum() == 1.0


# ------------------------------------------------------------------- label scoring
def test_prefix_reuse_gives_the_same_scores(smollm, rt_small):
    examples = select_examples(rt_small.train, rt_small.labels, 2, seed=1, multi_label=False)
    builder = PromptBuilder(load_template("review"), rt_small.labels, False, examples, chat=smollm.chat_prompt,
                            clip=lambda t: smollm.truncate(t, 48))
    reqs = builder.requests(rt_small.test["text"].head(10).tolist())
    # The split point merges in the tokenizer (head "…Review: " + body "Great…" → "Review", ":", " Great"):
    # the naive ids(head) is *not* a prefix of ids(head + body), so the cache must stop before it.
    head_ids, full_ids = smollm.encode(reqs[0].head), smollm.encode(reqs[0].head + reqs[0].body)
    assert full_ids[:len(head_ids)] != head_ids
    before = dict(smollm.stats)
    reused = np.array(smollm.score(reqs, reuse_prefix=True))
    assert smollm.stats["reused"] - before["reused"] == len(reqs)
    plain = np.array(smollm.score(reqs, reuse_prefix=False))
    assert np.isfinite(reused).all() and (reused < 0).all()
    np.testing.assert_allclose(reused, plain, atol=2e-4)


def test_multi_token_continuations_match_a_plain_forward(smollm):
    """Continuations of 1-3 tokens (stage 2 of the cached path) against the most naive computation."""
    import torch

    from pipelines.lm import ScoreRequest

    head = smollm.wrap("Rate the review.\n\nReview: superb\nRating: very positive\n\nReview: \x00").split("\x00")[0]
    conts = (" negative", " very positive", " mixed feelings overall")
    reqs = [ScoreRequest(head, t + "\nRating:", conts) for t in ("A joy.", "Tedious and long", "fine")]
    got = np.array(smollm.score(reqs, reuse_prefix=True))
    want = np.zeros_like(got)
    for r, req in enumerate(reqs):
        prompt = smollm.encode(req.head + req.body)
        for j, c in enumerate(conts):
            full = smollm.encode(req.head + req.body + c)
            start = next(i for i, (a, b) in enumerate(zip(prompt + [-1], full)) if a != b)
            with torch.inference_mode():
                lp = smollm.model(torch.tensor([full])).logits[0].float().log_softmax(-1)
            want[r, j] = sum(lp[t - 1, full[t]].item() for t in range(start, len(full)))
    assert len(smollm.encode(conts[2])) > 1
    np.testing.assert_allclose(got, want, atol=2e-4)


def test_zero_shot_label_run_is_valid_and_beats_majority(store, rt_small):
    job, folder = _run(store, dataset="rt_small", template="review", max_test_samples=48,  # calibrate: derived
                       **{**FAST, "speed_samples": 4})
    metrics = runs.read_json(folder / "metrics.json")
    preds = runs.load_predictions(folder)
    proba = runs.proba_from_predictions(preds, rt_small.labels)
    assert proba.shape == (48, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    majority = preds["gold"].value_counts(normalize=True).max()
    assert metrics["accuracy"] > majority, (metrics["accuracy"], majority)
    assert metrics["invalid_rate"] == 0 and metrics["prompt"]["invalid"] == 0 and not preds["invalid"].any()
    p = metrics["prompt"]
    assert (p["template"], p["mode"], p["scoring"], p["k"]) == ("review", "zero", "label", 0)
    assert p["calibration"]["enabled"] and np.array(p["calibration"]["probabilities"]).shape == (1, 2)  # questions × answers
    assert len(p["calibration"]["inputs"]) == 20 and p["calibration"]["method"] == "domain"  # the defaults
    resolved = runs.read_json(folder / "config.json")["resolved"]
    assert resolved["calibrate"] is True and "zero-shot" in resolved["calibrate_why"]
    assert resolved["model"] == "smollm2" and "two classes" in resolved["model_why"]  # derived: PromptConfig.model None
    assert metrics["model"]["trainable_params"] == 0 and metrics["model"]["total_params"] > 100e6
    assert metrics["speed"]["throughput"] > 0 and "total_energy_kwh" in metrics["emissions"]
    config = runs.read_json(folder / "config.json")
    assert config["kind"] == "prompt"
    assert config["prompt"]["template_source"] == (TEMPLATE_DIR / "review.yaml").read_text()
    assert not list(folder.rglob("*.safetensors")) and (folder / "model" / "reference.json").exists()
    # The playground path: rebuild the predictor from the folder, same probabilities.
    again = load_predictor(folder).predict_proba(preds["text"].head(5).tolist())
    np.testing.assert_allclose(again, proba[:5], atol=1e-5)


def test_crashed_run_resumes_without_recomputing_finished_chunks(store, rt_small, monkeypatch):
    calls = {"n": 0, "crash_at": 3}
    real = PromptPredictor.predict_detailed

    def spy(self, texts):
        calls["n"] += 1
        if calls["n"] == calls["crash_at"]:
            raise RuntimeError("simulated crash in chunk 3")
        return real(self, texts)

    monkeypatch.setattr(PromptPredictor, "predict_detailed", spy)
    cfg = PromptConfig(dataset="rt_small", template="classify", max_test_samples=32, chunk_size=8, **FAST).to_dict()
    first = run_now("prompt", cfg, store)
    assert first["status"] == "failed" and "simulated crash" in first["error"]
    work = runs.attempt_dir(first["id"], 1)
    assert sorted(p.name for p in (work / "chunks").glob("*.npz")) == ["00000.npz", "00001.npz"]

    calls.update(n=0, crash_at=-1)
    retry_id = store.retry(first["id"])
    store.claim(retry_id)
    job = execute(store, store.job(retry_id))  # attempt 2 takes attempt 1's folder over
    assert job["status"] == "done", job.get("error")
    assert calls["n"] == 2  # only chunks 3 and 4 were computed again
    folder = Path(store.run(job["run_id"])["path"])
    metrics = runs.read_json(folder / "metrics.json")
    assert metrics["prompt"]["chunks"] == {"chunks": 4, "resumed_chunks": 2, "computed_chunks": 2}
    assert len(metrics["emissions"]["phases"]) == 2  # the crashed attempt's energy is kept
    assert len(runs.load_predictions(folder)) == 32


def test_multilabel_prompting_yields_per_label_metrics(store, genres_small):
    _, folder = _run(store, dataset="genres_small", max_test_samples=10, **{**FAST, "max_text_tokens": 16})
    metrics = runs.read_json(folder / "metrics.json")
    assert metrics["multi_label"] and metrics["prompt"]["template"] == "yesno"
    assert set(metrics["per_class"]) == set(genres_small.labels)
    for stats in metrics["per_class"].values():
        assert 0.0 <= stats["f1"] <= 1.0 and stats["support"] >= 0
    assert 0.0 <= metrics["hamming_loss"] <= 1.0 and "subset_accuracy" in metrics
    proba = runs.proba_from_predictions(runs.load_predictions(folder), genres_small.labels)
    assert proba.shape == (10, 7) and ((proba > 0) & (proba < 1)).all()
    assert metrics["prompt"]["head_tokens"] and len(metrics["prompt"]["head_tokens"]) == 7
