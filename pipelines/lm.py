"""The language-model interface of the ``prompt`` run kind: what a prompting baseline asks of an LLM.

Modelled on lm-evaluation-harness's ``LM`` (``lm_eval/api/model.py``): a model answers two
kinds of request, and the prompt kind (:mod:`pipelines.prompting`) uses nothing else.

- :meth:`LM.score` — the summed log-likelihood of each label continuation after a prompt
  (lm-eval's ``loglikelihood``). A :class:`ScoreRequest` splits the prompt into a ``head``
  shared by every text (instruction + few-shot examples) and a text-specific ``body``, so an
  implementation may compute the head once (``CausalLM`` keeps its KV cache);
- :meth:`LM.generate` — free generation, greedy or sampled with a seed (lm-eval's
  ``generate_until``), for generate-and-parse;

plus the few members a prompt needs around them: ``chat``/:meth:`LM.chat_prompt` (a chat
template turns messages into the prompt string), :meth:`LM.encode` and :meth:`LM.truncate`
(token counts and clipping long texts), and what a run records: ``name``, ``path``,
``device``, :meth:`LM.n_params`, :meth:`LM.size_mb` and ``stats``.

Adding an LLM:

- a checkpoint ``transformers.AutoModelForCausalLM`` loads: nothing to write. Pass its local
  folder or Hub id as ``PromptConfig.model``, or give it a short name with one catalog entry
  (an ``Asset`` and its resolver in :mod:`pipelines.assets`); :class:`pipelines.llm.CausalLM`
  runs it;
- another runtime (llama.cpp, a served API …): one subclass of :class:`LM` implementing the
  abstract members, handed to ``prompting.build_predictor(..., lm=YourLM(...))``.

This module imports neither torch nor transformers: the dashboard imports the prompt kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LM", "ScoreRequest"]


@dataclass(frozen=True)
class ScoreRequest:
    """Score ``continuations`` after ``head + body``; ``head`` is the part shared across texts."""

    head: str
    body: str
    continuations: tuple[str, ...]


class LM(ABC):
    """A language model as the prompt kind sees it.

    Attributes every implementation sets: ``name`` (what the user asked for, e.g. ``smollm2``),
    ``path`` (the folder or id the weights came from, recorded in the run), ``device`` (where it
    runs; its ``str`` goes into metrics.json) and ``stats`` (counters reported in the run's
    ``prompt.prefix_stats``; may stay empty).
    """

    name: str
    path: str
    device: Any
    stats: dict[str, int]

    # ------------------------------------------------------------ requests
    @abstractmethod
    def score(self, requests: Sequence[ScoreRequest], reuse_prefix: bool = True) -> list[np.ndarray]:
        """Summed log-probability of each continuation: one array (len = its continuations) per request.

        ``reuse_prefix=False`` asks for the plain computation (no shared-head shortcut); the
        scores must be the same either way.
        """

    @abstractmethod
    def generate(self, prompts: Sequence[str], max_new_tokens: int = 8, sample: bool = False,
                 seed: int = 0) -> list[str]:
        """Continue each prompt (greedy, or sampled with ``seed``); only the new text, one per prompt."""

    # ------------------------------------------------------------- prompts
    @property
    @abstractmethod
    def chat(self) -> bool:
        """Whether prompts go through a chat template (see :meth:`chat_prompt`)."""

    @abstractmethod
    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """Chat-template string of a conversation (``role``/``content`` dicts), opening the assistant's turn."""

    def wrap(self, user: str, system: str | None = None) -> str:
        """Prompt string for one user message: chat-templated when the model has a template, else as is."""
        if not self.chat:
            return user
        return self.chat_prompt(([{"role": "system", "content": system}] if system else [])
                                + [{"role": "user", "content": user}])

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of a prompt string as the model would read it (head lengths in the run's metrics)."""

    @abstractmethod
    def truncate(self, text: str, max_tokens: int | None) -> str:
        """The text cut to its first ``max_tokens`` tokens (unchanged when None/0 or already short)."""

    # ---------------------------------------------------------------- size
    @abstractmethod
    def n_params(self) -> int:
        """Number of parameters (the leaderboard's model-size column)."""

    @abstractmethod
    def size_mb(self) -> float:
        """Weights in memory, MiB."""
