"""The LM interface is the whole contract of the prompt kind: one class is a new LLM.

A toy model (log-likelihood from word lists, no torch) implements :class:`pipelines.lm.LM`
and runs through the same ``build_predictor`` → ``PromptPredictor`` path as ``CausalLM``,
in both scoring modes. Milliseconds.
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
    cfg = PromptConfig(dataset="any", model="wordlist", mode="zero", scoring=scoring, template="review")
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
