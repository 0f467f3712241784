"""Hugging Face causal LMs behind the :class:`pipelines.lm.LM` interface: loading, label scoring, generation.

Any checkpoint ``AutoModelForCausalLM`` loads runs here (a catalog name, a local folder or a
Hub id: see :mod:`pipelines.lm` for how to add an LLM). Two ways to ask it for a class:

- :meth:`CausalLM.score` — the log-likelihood of each label continuation (verbaliser) after
  a prompt. The prompt is split into a ``head`` shared by every text (instruction + few-shot
  examples) and a text-specific ``body``. The head's KV cache is computed once and reused:
  per batch of texts (length-sorted), stage 1 runs only the bodies on top of the cached head,
  stage 2 runs only multi-token label continuations on top of the bodies (all labels of all
  texts in one pass), so a 300-token few-shot head is never recomputed and a body never runs
  twice; for single-token label words stage 1 alone gives every label's score, and each
  predicting position goes through the lm_head once. The head is attended in place by every
  text (:mod:`pipelines.prefix_attention`), not copied per batch.
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
from .prefix_attention import NAME as SHARED_HEAD_ATTENTION
from .prefix_attention import body_mask, fan_out, shared_head

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
        # shared-head attention needs our attention function in every layer and no logit soft-capping
        self.shared_head = (getattr(model.config, "_attn_implementation", None) == SHARED_HEAD_ATTENTION
                            and getattr(model.config, "attn_logit_softcapping", None) is None)
        self._prefix: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._head_ids: dict[str, list[int]] = {}
        self.stats = {"texts": 0, "reused": 0, "prefix_builds": 0, "boundary_merges": 0,
                      "shared_head_batches": 0}

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, name_or_path: str, device: str | None = "auto", batch_size: int = 16,
             dtype: str | None = None) -> CausalLM:
        """Catalog name (``smollm2``, ``gemma3-270m``), local folder or Hub id → ready model.

        ``dtype`` None: float32 on CPU, bfloat16 (or float16) on a GPU. ``dtype="bfloat16"`` on a
        CPU with AMX/AVX512-BF16 scores ~2.8× faster but moves log-probs by up to ~0.25 and 2% of
        few-shot labels (bench/llm.py, --sections scoring), so float32 stays the CPU default; int8
        dynamic quantisation was measured and rejected (bench/RESULTS.md). Layers get the shared-head attention of
        :mod:`pipelines.prefix_attention` (stock SDPA outside label scoring); a model whose
        code does not take it falls back to the fan-out path.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if dtype not in (None, "float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
        path = assets.resolve_model(name_or_path)
        if not Path(path).exists() and "/" not in path:
            raise FileNotFoundError(f"model {name_or_path!r} is neither a catalog name ({', '.join(assets.RESOLVERS)}), "
                                    "a local folder nor a Hub id")
        dev = pick_device(device)
        if dtype is None:
            dtype = torch.float32 if dev.type == "cpu" else (
                torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float16)
        else:
            dtype = getattr(torch, dtype)
        tok = AutoTokenizer.from_pretrained(path)
        try:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=SHARED_HEAD_ATTENTION)
        except (ValueError, TypeError) as e:  # architectures that only take built-in attention kinds
            log.info("%s: no shared-head attention (%s); the head's cache is fanned out per batch", name_or_path, e)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model = model.to(dev).eval()
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
        """Stage 1: bodies on the head. Stage 2: continuation tokens that predict a later scored token (all
        but the last) on their body; single-token labels (the usual case) need none. Shared-head attention
        saves copying the head but adds a softmax part over the bodies: used when the head is the longer."""
        rows = [(i, c[:-1]) for i, p in enumerate(plans) for c in p.conts]
        need = [r for r, (_, c) in enumerate(rows) if c]
        shared = self.shared_head and m >= max(len(p.body) for p in plans) > 0
        self.stats["shared_head_batches"] += shared
        run = self._run_shared if shared else self._run_fanout
        h1, h2 = run(head, m, plans, [rows[r] for r in need])
        self._gather_scores(plans, h1, h2, {r: k for k, r in enumerate(need)}, out)

    def _stage_inputs(self, m: int, plans: list[_Plan], stage2: list[tuple[int, list[int]]]):
        """Padded ids, masks and positions of both stages (positions continue after each body)."""
        dev = self.device
        ids1, mask1 = self._pad([p.body for p in plans])
        n, w1 = ids1.shape
        pos1 = (m + torch.arange(w1, device=dev)).unsqueeze(0).expand(n, w1)
        if not stage2:
            return ids1, mask1, pos1, None
        rep = torch.tensor([i for i, _ in stage2], device=dev)
        ids2, mask2 = self._pad([c for _, c in stage2])
        body_len = torch.tensor([len(plans[i].body) for i, _ in stage2], device=dev)
        pos2 = m + body_len.unsqueeze(1) + torch.arange(ids2.shape[1], device=dev).unsqueeze(0)
        return ids1, mask1, pos1, (rep, ids2, mask2, pos2)

    def _run_shared(self, head: str, m: int, plans: list[_Plan], stage2: list[tuple[int, list[int]]]):
        """Both stages with the head attended in place (:mod:`pipelines.prefix_attention`): no per-batch copy."""
        ids1, mask1, pos1, s2 = self._stage_inputs(m, plans, stage2)
        with shared_head(self._prefix_cache(head, m)):
            o1 = self.decoder(input_ids=ids1, attention_mask=body_mask(mask1, ids1.shape[1]), position_ids=pos1,
                              use_cache=s2 is not None)
            if s2 is None:
                return o1.last_hidden_state, None
            rep, ids2, mask2, pos2 = s2
            o1.past_key_values.batch_select_indices(rep)
            valid = torch.cat([mask1[rep], mask2], 1)
            o2 = self.decoder(input_ids=ids2, attention_mask=body_mask(valid, ids2.shape[1]), position_ids=pos2,
                              past_key_values=o1.past_key_values, use_cache=True)
        return o1.last_hidden_state, o2.last_hidden_state

    def _run_fanout(self, head: str, m: int, plans: list[_Plan], stage2: list[tuple[int, list[int]]]):
        """Both stages with the head's cache fanned out to the batch: without a head (``m == 0``), for models
        without shared-head attention, and as ``bench/llm.py``'s baseline (``shared_head = False``)."""
        ids1, mask1, pos1, s2 = self._stage_inputs(m, plans, stage2)
        n = ids1.shape[0]
        cache = fan_out(self._prefix_cache(head, m), n) if m else None
        past_mask = torch.ones((n, m), dtype=torch.long, device=self.device)
        o1 = self.decoder(input_ids=ids1, attention_mask=torch.cat([past_mask, mask1], 1), position_ids=pos1,
                          past_key_values=cache, use_cache=True)
        if s2 is None:
            return o1.last_hidden_state, None
        rep, ids2, mask2, pos2 = s2
        o1.past_key_values.batch_select_indices(rep)
        mask = torch.cat([past_mask[rep], mask1[rep], mask2], 1)
        o2 = self.decoder(input_ids=ids2, attention_mask=mask, position_ids=pos2, past_key_values=o1.past_key_values,
                          use_cache=True)
        return o1.last_hidden_state, o2.last_hidden_state

    def _gather_scores(self, plans: list[_Plan], h1: torch.Tensor, h2: torch.Tensor | None, slot: dict[int, int],
                       out: list[np.ndarray]) -> None:
        """Log-probability of every scored token: one lm_head row per distinct predicting position.

        Single-token labels are all predicted from a text's last body position: that hidden
        state goes through the 49k-word lm_head and log_softmax once, not once per label.
        """
        where: dict[tuple[int, int, int], int] = {}  # (stage, row, position) -> lm_head row
        vecs, picks, owners = [], [], []
        row = 0
        for i, p in enumerate(plans):
            common = p.m + len(p.body)
            for j, scored in enumerate(p.scored):
                for t, tok in scored:
                    src = t - 1  # position whose output predicts token t
                    key = (1, i, src - p.m) if src < common else (2, slot[row], src - common)
                    if key not in where:
                        where[key] = len(vecs)
                        vecs.append((h1 if key[0] == 1 else h2)[key[1], key[2]])
                    picks.append((where[key], tok))
                    owners.append((p.index, j))
                row += 1
        logits = self.lm_head(torch.stack(vecs)).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        idx = torch.tensor(picks, device=self.device)
        lp = torch.log_softmax(logits, -1)[idx[:, 0], idx[:, 1]]
        for (k, j), v in zip(owners, lp.cpu().numpy()):
            out[k][j] += float(v)

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
