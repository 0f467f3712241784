"""The LM interface is the whole contract of the prompt kind: one class is a new LLM.

A toy model (log-likelihood from word lists, no torch) implements :class:`pipelines.lm.LM`
and runs through the same ``build_predictor`` → ``PromptPredictor`` path as ``CausalLM``,
in both scoring modes (milliseconds). Then the real smallest LLM (SmolLM2-135M, ~2 s): the
fast label-scoring path (cached head attended in place, length-sorted batches, one lm_head
row per predicting position) must give the scores of the plain path (no head cache, one text
per forward) on awkward texts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from pipelines.configs import PromptConfig
from pipelines.lm import LM, ScoreRequest
from pipelines.prompting import build_predictor


class WordListLM(LM):
    """Says "positive" after a text with a happy word, else "negative"; no chat template."""

    HAPPY = {"great", "joy", "superb"}

    def __init__(self) -> None:
        self.name, self.path, self.device, self.stats = "wordlist", "wordlist", "cpu", {"texts": 0}

    def _answer(self, prompt: str) -> str:
        last = prompt.rsplit("Review:", 1)[-1].lower()
        return "positive" if any(w in last for w in self.HAPPY) else "negative"

    def score(self, requests: Sequence[ScoreRequest], reuse_prefix: bool = True) -> list[np.ndarray]:
        self.stats["texts"] += len(requests)
        return [np.array([0.0 if c.strip().lower() == self._answer(r.head + r.body) else -5.0
                          for c in r.continuations]) for r in requests]

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 8, sample: bool = False,
                 seed: int = 0) -> list[str]:
        return [" " + self._answer(p) for p in prompts]

    @property
    def chat(self) -> bool:
        return False

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        raise ValueError("no chat template")

    def encode(self, text: str) -> list[int]:
        return [len(w) for w in text.split()]

    def truncate(self, text: str, max_tokens: int | None) -> str:
        return " ".join(text.split()[:max_tokens]) if max_tokens else text

    def n_params(self) -> int:
        return len(self.HAPPY)

    def size_mb(self) -> float:
        return 0.0


@pytest.mark.parametrize("scoring", ["label", "generate"])
def test_a_new_lm_is_one_class(scoring):
    lm = WordListLM()
    cfg = PromptConfig(dataset="any", model="wordlist", mode="zero", scoring=scoring, template="review",
                       calibrate=False)  # no train split to draw calibration words from
    predictor, meta = build_predictor(cfg, ["negative", "positive"], False, lm=lm)
    texts = ["A joy from start to end.", "Tedious and long.", "Superb acting."]
    assert list(predictor.predict(texts)) == ["positive", "negative", "positive"]
    assert meta["model_path"] == "wordlist" and meta["chat_template"] is False
    assert (lm.stats["texts"] > 0) == (scoring == "label")


def test_an_incomplete_lm_cannot_be_built():
    class Half(LM):
        def score(self, requests, reuse_prefix=True):
            return []

    with pytest.raises(TypeError, match="abstract"):
        Half()


# ------------------------------------------------------------- the real causal LM's fast path
AWKWARD = ["", "Great.", "这部电影非常好看，演员的表演也很出色。", "Фильм ужасно скучный и слишком длинный.",
           "🍿🎬 loved it 😍😍😍 10/10 🔥", "a " * 3000]


@pytest.fixture(scope="module")
def smollm():
    from pipelines.llm import CausalLM

    return CausalLM.load("smollm2", device="cpu", batch_size=4)


@pytest.mark.usefixtures("one_torch_thread")
def test_batched_shared_head_scores_equal_the_plain_path(smollm):
    """Empty, short, Chinese, Cyrillic, emoji and a 3,000-word text cut to 48 tokens; one- and three-token labels."""
    head = smollm.wrap("Classify the review.\n\nReview: superb\nAnswer: positive\n\n"
                       "Review: dull\nAnswer: negative\n\nReview: \x00").split("\x00")[0]
    conts = (" negative", " positive", " mixed feelings overall")
    reqs = [ScoreRequest(head, smollm.truncate(t, 48) + "\nAnswer:", conts) for t in AWKWARD]
    assert len(smollm.encode(reqs[-1].body)) > 40 and len(smollm.encode(conts[2])) > 1
    assert smollm.shared_head  # the fast path is the one under test
    before = dict(smollm.stats)
    fast = np.array(smollm.score(reqs))  # batches of 4, so padding and two length-sorted batches
    assert smollm.stats["reused"] - before["reused"] == len(reqs)
    assert smollm.stats["shared_head_batches"] > before["shared_head_batches"]
    batch = smollm.batch_size
    smollm.batch_size = 1
    try:
        plain = np.array(smollm.score(reqs, reuse_prefix=False))
    finally:
        smollm.batch_size = batch
    smollm.shared_head = False  # the head's cache fanned out per batch (the path before)
    try:
        fanned = np.array(smollm.score(reqs))
    finally:
        smollm.shared_head = True
    assert np.isfinite(fast).all() and (fast < 0).all()
    np.testing.assert_allclose(fast, plain, atol=1e-4, rtol=0)
    np.testing.assert_allclose(fanned, plain, atol=1e-4, rtol=0)
    assert (fast.argmax(1) == plain.argmax(1)).all()


def test_a_bad_dtype_is_refused_before_loading():
    from pipelines.llm import CausalLM

    with pytest.raises(ValueError, match="dtype must be float32, bfloat16 or float16, got 'int8'"):
        CausalLM.load("smollm2", dtype="int8")
