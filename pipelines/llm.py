"""Hugging Face causal LMs behind the :class:`pipelines.lm.LM` interface: loading, label scoring, generation.

Any checkpoint ``AutoModelForCausalLM`` loads runs here (a catalog name, a local folder or a
Hub id: see :mod:`pipelines.lm` for how to add an LLM). Two ways to ask it for a class:

- :meth:`CausalLM.score` — the log-likelihood of each label continuation (verbaliser) after
  a prompt. The prompt is split into a ``head`` shared by every text (instruction + few-shot
  examples) and a text-specific ``body``. The head's KV cache is computed once and reused:
  per batch of texts, stage 1 runs only the bodies on top of the cached head, stage 2 runs
  only multi-token label continuations on top of the bodies (the cache fanned out per label),
  so a 300-token few-shot head costs nothing per text and a body is never run twice; for
  single-token label words stage 1 alone gives every label's score.
- :meth:`CausalLM.generate` — free (greedy or sampled) generation, for generate-and-parse.

Why token-level care is needed: tokenisers merge across a string boundary (SmolLM2 encodes a
trailing ``"\\n\\n"`` as one token but ``"\\n\\nReview"`` as ``"\\n", "\\n", "Review"``), so
``ids(head) + ids(body) != ids(head + body)`` and a cache built from ``ids(head)`` would
change the scores. We always tokenise the *full* string (head + body + continuation) and
reuse the cache only for the longest token prefix the full sequence shares with
``ids(head)`` (usually all but the last head token); a continuation's tokens are those of
``ids(prompt + continuation)`` after its common prefix with ``ids(prompt)``. Scores with and
without reuse are therefore the same computation (tests assert allclose).
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import assets
from .lm import LM, ScoreRequest

log = logging.getLogger(__name__)

__all__ = ["CausalLM", "pick_device"]

PREFIX_CACHE_SIZE = 16  # heads kept (multi-label prompting has one head per label)


@dataclass
class _Plan:
    """Token layout of one request: cached head[:m] | stage-1 body ids | stage-2 continuation ids."""

    index: int
    head: str
    m: int  # tokens taken from the shared head cache
    prompt: list[int]  # ids of the full sequence up to ``common`` (shared by every continuation)
    conts: list[list[int]] = field(default_factory=list)  # full_l[common:], run in stage 2
    scored: list[list[tuple[int, int]]] = field(default_factory=list)  # per label: (position, token) pairs

    @property
    def body(self) -> list[int]:
        """Run in stage 1: the tokens after the cached head, up to where the continuations differ."""
        return self.prompt[self.m:]


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _share_prefix_lengths(plans: list[_Plan], slack: int = 4) -> list[_Plan]:
    """Give texts of one head whose reusable lengths differ by ≤ ``slack`` tokens the same length.

    The first token of a text can merge with the head's last one differently ("Text: 40 Days"
    vs "Text: ...To Skin"), so reusable lengths differ by a token or two; recomputing those few
    tokens is cheaper than one more prefix cache and one more, smaller batch.
    """
    by_head: dict[str, list[_Plan]] = {}
    for p in plans:
        if p.m:
            by_head.setdefault(p.head, []).append(p)
    for group in by_head.values():
        group.sort(key=lambda p: p.m)
        start = group[0].m
        for p in group:
            if p.m > start + slack:
                start = p.m
            p.m = start
    return plans


def _fan_out(cache: Any, n: int) -> Any:
    """A copy of a batch-1 cache seen as batch n, without copying the head n times.

    ``expand`` makes views; the first ``torch.cat`` in the forward pass materialises them
    once (``batch_repeat_interleave`` would copy here and again in that cat).
    """
    out = copy.deepcopy(cache)
    layers = getattr(out, "layers", None)
    if layers is None or not all(hasattr(layer, "keys") for layer in layers):
        out.batch_repeat_interleave(n)
        return out
    for layer in layers:
        if getattr(layer, "keys", None) is not None and layer.keys.numel():
            layer.keys = layer.keys.expand(n, *layer.keys.shape[1:])
            layer.values = layer.values.expand(n, *layer.values.shape[1:])
    return out


def pick_device(device: str | None = "auto") -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class CausalLM(LM):
    """A Hugging Face causal LM + tokenizer with prompt-scoring helpers (no training)."""

    def __init__(self, model: Any, tokenizer: Any, name: str, path: str, device: torch.device,
                 batch_size: int = 16):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.path = path
        self.device = device
        self.batch_size = batch_size
        self.decoder = model.get_decoder()
        self.lm_head = model.get_output_embeddings()
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.sliding_window = getattr(model.config, "sliding_window", None)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0
        self._prefix: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._head_ids: dict[str, list[int]] = {}
        self.stats = {"texts": 0, "reused": 0, "prefix_builds": 0, "boundary_merges": 0}

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, name_or_path: str, device: str | None = "auto", batch_size: int = 16) -> CausalLM:
        """Catalog name (``smollm2``, ``gemma3-270m``), local folder or Hub id → ready model.

        float32 on CPU (bf16 matmuls are slow there and change scores); bfloat16 on a GPU.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = assets.resolve_model(name_or_path)
        if not Path(path).exists() and "/" not in path:
            raise FileNotFoundError(f"model {name_or_path!r} is neither a catalog name ({', '.join(assets.RESOLVERS)}), "
                                    "a local folder nor a Hub id")
        dev = pick_device(device)
        dtype = torch.float32 if dev.type == "cpu" else (
            torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float16)
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(dev).eval()
        log.info("loaded %s (%s) on %s, %s", name_or_path, path, dev, dtype)
        return cls(model, tok, name_or_path, path, dev, batch_size=batch_size)

    # ---------------------------------------------------------------- text utils
    @property
    def chat(self) -> bool:
        """Has a chat template: prompts are wrapped as a user turn, answers start the assistant turn."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """Chat-template string of a conversation, opening the assistant's next turn."""
        if not self.chat:
            raise ValueError(f"model {self.name!r} has no chat template; use a plain-text prompt")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def encode(self, text: str) -> list[int]:
        # A chat-templated string already holds its special tokens; a plain prompt gets BOS.
        return self.tokenizer(text, add_special_tokens=not self.chat)["input_ids"]

    def truncate(self, text: str, max_tokens: int | None) -> str:
        """Cut a text to its first ``max_tokens`` tokens (long articles would swamp a few-shot prompt)."""
        if not max_tokens:
            return text
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= max_tokens:
            return text
        return self.tokenizer.decode(ids[:max_tokens], skip_special_tokens=True)

    def n_params(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    def size_mb(self) -> float:
        return float(sum(p.numel() * p.element_size() for p in self.model.parameters()) / 2**20)

    # ------------------------------------------------------------------ scoring
    @torch.inference_mode()
    def score(self, requests: Sequence[ScoreRequest], reuse_prefix: bool = True) -> list[np.ndarray]:
        """Summed log-probability of each continuation, one array (len = n continuations) per request."""
        out = [np.zeros(len(r.continuations)) for r in requests]
        plans = [self._plan(i, r, reuse_prefix) for i, r in enumerate(requests)]
        _share_prefix_lengths(plans)
        groups: dict[tuple[str, int], list[_Plan]] = {}
        for p in plans:
            groups.setdefault((p.head, p.m), []).append(p)
        for (head, m), group in sorted(groups.items(), key=lambda kv: -kv[0][1]):
            group.sort(key=lambda p: len(p.body))
            for start in range(0, len(group), self.batch_size):
                batch = group[start:start + self.batch_size]
                slots = m + max(len(p.body) for p in batch) + max(len(c) for p in batch for c in p.conts)
                if self.sliding_window and slots >= self.sliding_window:
                    # padding slots count towards a sliding window: run these texts one by one
                    for p in batch:
                        self._score_batch(head, m, [p], out)
                else:
                    self._score_batch(head, m, batch, out)
        self.stats["texts"] += len(requests)
        return out

    def clear_prefix_cache(self) -> None:
        """Forget the cached heads, so the next score pays for them again (timings start cold)."""
        self._prefix.clear()

    def _head(self, head: str) -> list[int]:
        if head not in self._head_ids:
            self._head_ids[head] = self.encode(head)
        return self._head_ids[head]

    def _plan(self, index: int, req: ScoreRequest, reuse: bool) -> _Plan:
        if not req.continuations:
            raise ValueError("a score request needs at least one continuation")
        prompt = self.encode(req.head + req.body)
        fulls = [self.encode(req.head + req.body + c) for c in req.continuations]
        bounds = [_lcp(prompt, f) for f in fulls]
        for c, f, b in zip(req.continuations, fulls, bounds):
            if b >= len(f):
                raise ValueError(f"continuation {c!r} adds no token after the prompt")
            if b == 0:
                raise ValueError("the prompt is empty: nothing to condition the label scores on")
        if any(b < len(prompt) for b in bounds):
            self.stats["boundary_merges"] += 1  # a continuation merged with the prompt's last token
        common = min(_lcp(fulls[0], f) for f in fulls) if len(fulls) > 1 else len(fulls[0]) - 1
        common = min(common, len(prompt), min(bounds))
        m = 0
        if reuse:
            # Longest token prefix shared with ids(head); keep ≥ 1 token for stage 1 and make sure
            # the first scored token is predicted from a position we actually run.
            m = min(_lcp(self._head(req.head), fulls[0]), common - 1)
            if self.sliding_window and len(fulls[0]) + 8 > self.sliding_window:
                m = 0  # windows count cache slots incl. padding: stay exact, run this text without reuse
            m = max(m, 0)
        if m:
            self.stats["reused"] += 1
        plan = _Plan(index=index, head=req.head if m else "", m=m, prompt=fulls[0][:common])
        for f, b in zip(fulls, bounds):
            plan.conts.append(f[common:])
            plan.scored.append([(t, f[t]) for t in range(b, len(f))])
        return plan

    def _prefix_cache(self, head: str, m: int) -> Any:
        key = (head, m)
        if key in self._prefix:
            self._prefix.move_to_end(key)
            return self._prefix[key]
        longer = [k for k in self._prefix if k[0] == head and k[1] > m]
        if longer:  # texts whose first token merges differently: crop the head's cache, no new forward
            cache = copy.deepcopy(self._prefix[longer[0]])
            cache.crop(m - longer[0][1])
        else:
            ids = torch.tensor([self._head(head)[:m]], device=self.device)
            cache = self.decoder(input_ids=ids, use_cache=True).past_key_values
        self._prefix[key] = cache
        self.stats["prefix_builds"] += 1
        while len(self._prefix) > PREFIX_CACHE_SIZE:
            self._prefix.popitem(last=False)
        return cache

    def _pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(1, max(len(r) for r in rows))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, :len(r)] = 1
        return ids.to(self.device), mask.to(self.device)

    def _score_batch(self, head: str, m: int, plans: list[_Plan], out: list[np.ndarray]) -> None:
        n = len(plans)
        dev = self.device
        # Stage 1: bodies on top of the cached head (or from scratch when m == 0).
        ids1, mask1 = self._pad([p.body for p in plans])
        w1 = ids1.shape[1]
        cache = None
        if m:
            cache = _fan_out(self._prefix_cache(head, m), n)
        past_mask = torch.ones((n, m), dtype=torch.long, device=dev)
        pos1 = (m + torch.arange(w1, device=dev)).unsqueeze(0).expand(n, w1)
        o1 = self.decoder(input_ids=ids1, attention_mask=torch.cat([past_mask, mask1], 1), position_ids=pos1,
                          past_key_values=cache, use_cache=True)
        h1 = o1.last_hidden_state
        # Stage 2: continuation tokens that are inputs for a later scored token (all but the last
        # of each continuation), on top of their own body, the cache fanned out per continuation.
        # Single-token label words (the usual case) need no stage 2: stage 1's last position
        # already predicts them.
        rows = [(i, c[:-1]) for i, p in enumerate(plans) for c in p.conts]
        need = [r for r, (_, c) in enumerate(rows) if c]
        h2, slot = None, {r: k for k, r in enumerate(need)}
        if need:
            rep = [rows[r][0] for r in need]
            cache2 = o1.past_key_values
            cache2.batch_select_indices(torch.tensor(rep, device=dev))
            ids2, mask2 = self._pad([rows[r][1] for r in need])
            w2 = ids2.shape[1]
            body_len = torch.tensor([len(plans[i].body) for i in rep], device=dev)
            pos2 = m + body_len.unsqueeze(1) + torch.arange(w2, device=dev).unsqueeze(0)
            mask = torch.cat([past_mask[rep], mask1[rep], mask2], 1)
            h2 = self.decoder(input_ids=ids2, attention_mask=mask, position_ids=pos2, past_key_values=cache2,
                              use_cache=True).last_hidden_state
        # Gather the hidden state that predicts each scored token, then one lm_head matmul.
        vecs, targets, owners = [], [], []
        row = 0
        for i, p in enumerate(plans):
            common = p.m + len(p.body)
            for j, scored in enumerate(p.scored):
                for t, tok in scored:
                    src = t - 1  # position whose output predicts token t
                    vecs.append(h1[i, src - p.m] if src < common else h2[slot[row], src - common])
                    targets.append(tok)
                    owners.append((p.index, j))
                row += 1
        logits = self.lm_head(torch.stack(vecs)).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        lp = torch.log_softmax(logits, -1).gather(1, torch.tensor(targets, device=dev).unsqueeze(1)).squeeze(1)
        for (idx, j), v in zip(owners, lp.cpu().numpy()):
            out[idx][j] += float(v)

    # --------------------------------------------------------------- generation
    @torch.inference_mode()
    def generate(self, prompts: Sequence[str], max_new_tokens: int = 8, sample: bool = False, seed: int = 0,
                 temperature: float = 0.8) -> list[str]:
        """Continue each prompt (greedy, or sampled with ``seed``); returns only the new text."""
        from transformers import GenerationConfig

        cfg = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=sample,
                               temperature=temperature if sample else None, top_p=None, top_k=None,
                               pad_token_id=self.pad_id, eos_token_id=self.tokenizer.eos_token_id)
        texts: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = [self.encode(p) for p in prompts[start:start + self.batch_size]]
            width = max(len(b) for b in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for i, b in enumerate(batch):  # left padding: new tokens line up at the end
                ids[i, width - len(b):] = torch.tensor(b)
                mask[i, width - len(b):] = 1
            if sample:
                torch.manual_seed(seed)
            gen = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                      generation_config=cfg)
            texts += self.tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
        return texts
