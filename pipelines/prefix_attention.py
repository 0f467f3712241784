"""Attention over a shared prompt head without copying its KV cache per text (cascade attention).

Label scoring runs a batch of n text bodies on top of one head (instruction + few-shot
examples) whose keys/values were computed once. Handing the model that head as a cache
fanned out to batch n makes every layer materialise n copies of it (the cache's ``cat``),
repeat them again for grouped-query heads, and run a masked attention kernel over n × head
keys: for a 1,500-token few-shot head of BBC articles that was over half the time, more than
the linear layers.

Here the head never enters the model's cache. While :func:`shared_head` is active, each
attention layer computes two softmax parts and merges them exactly by their log-sum-exps
(as flash-decoding / Hydragen do):

- head part: the queries of all texts stacked as the rows of one batch-1 attention per
  key/value group (the head is read once, not n times, and never repeated per query head);
  no mask, since every body position comes after the whole head. On the CPU this is torch's
  flash kernel (``aten._scaled_dot_product_flash_attention_for_cpu``, the one SDPA calls, which
  also returns the log-sum-exp);
- body part: the queries against the batch's own keys (the body, and in stage 2 the
  continuation) under the 4D mask the caller passes (causal + padding).

The result is the same softmax up to float rounding (tests compare with the fan-out path and
with a plain forward). Outside the context manager the function is the stock SDPA attention,
so the model behaves exactly as loaded (``generate``, calibration, anything else).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

__all__ = ["NAME", "body_mask", "fan_out", "shared_head"]

NAME = "workbench_shared_head"

# Per layer (keys, values) of the active head, each [1, kv heads, head length, head dim].
_HEAD: ContextVar[Sequence[tuple[torch.Tensor, torch.Tensor]] | None] = ContextVar("_HEAD", default=None)


@contextmanager
def shared_head(cache: Any) -> Iterator[None]:
    """Make every attention layer attend to ``cache`` (a batch-1 KV cache of the head) as well."""
    token = _HEAD.set([(layer.keys, layer.values) for layer in cache.layers])
    try:
        yield
    finally:
        _HEAD.reset(token)


def body_mask(valid: torch.Tensor, n_query: int) -> torch.Tensor:
    """4D boolean mask [n, 1, q, k] for queries that are the last ``n_query`` of the ``valid`` key slots.

    ``valid`` is the [n, k] 0/1 mask of the keys the batch holds (earlier stages' slots, then
    the queries' own); a query sees the valid keys up to its own slot (causal).
    """
    n, k = valid.shape
    q_pos = torch.arange(k - n_query, k, device=valid.device)
    causal = torch.arange(k, device=valid.device).unsqueeze(0) <= q_pos.unsqueeze(1)  # [q, k]
    return (causal.unsqueeze(0) & valid.bool().unsqueeze(1)).unsqueeze(1)


def _attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
               **kwargs: Any) -> tuple[torch.Tensor, None]:
    head = _HEAD.get()
    if head is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, **kwargs)
    if kwargs.get("softcap") is not None:
        raise ValueError("shared-head attention does not support attention logit soft-capping")
    hk, hv = head[module.layer_idx]
    dtype = query.dtype  # softmax sums in float32 also when the model runs in bfloat16
    query, key, value, hk, hv = (t.float() for t in (query, key, value, hk, hv))
    n, n_heads, w, d = query.shape
    groups = key.shape[1]
    r = n_heads // groups  # query heads per key/value head (head h uses kv head h // r)
    scale = scaling if scaling is not None else d ** -0.5
    q = query.reshape(n, groups, r * w, d)  # rows ordered (head in group, position)

    # Head part: all queries of all texts as rows of one batch-1 attention per key/value group.
    qh = q.transpose(0, 1).reshape(1, groups, n * r * w, d)
    o_h, lse_h = _part(qh, hk, hv, scale)
    o_h, lse_h = (t.reshape(groups, n, r * w, -1).transpose(0, 1) for t in (o_h, lse_h))

    # Body part: the same grouping, under the caller's causal + padding mask (repeated per query head).
    k = key.shape[2]
    mask = None
    if attention_mask is not None:
        mask = attention_mask.bool().expand(n, 1, w, k).unsqueeze(2).expand(n, 1, r, w, k).reshape(n, 1, r * w, k)
    o_b, lse_b = _part(q, key, value, scale, mask)  # a row is never fully masked here

    # Merge the two normalised parts by their shares of the total softmax mass.
    out = torch.lerp(o_b, o_h, torch.sigmoid(lse_h - lse_b))
    return out.reshape(n, n_heads, w, d).transpose(1, 2).contiguous().to(dtype), None


def _part(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
          mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax attention of q [b, g, rows, d] over k/v [b, g, keys, d] and its log-sum-exp ([b, g, rows, 1]).

    On the CPU torch's tiled flash kernel (the one SDPA calls; it also returns the log-sum-exp)
    does it without materialising the rows × keys scores: about 3× faster than matmuls for a
    1,500-token head. Elsewhere, plain matmuls. ``mask``: True where a key may be attended.
    """
    if q.device.type == "cpu":
        bias = None if mask is None else torch.zeros(mask.shape, dtype=q.dtype).masked_fill_(~mask, float("-inf"))
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, False, attn_mask=bias,
                                                                             scale=scale)
        return out, lse.unsqueeze(-1)
    s = torch.matmul(q, k.transpose(-1, -2)).mul_(scale)
    if mask is not None:
        s.masked_fill_(~mask, float("-inf"))
    lse = torch.logsumexp(s, -1, keepdim=True)
    return torch.matmul(s.sub_(lse).exp_(), v), lse


def fan_out(cache: Any, n: int) -> Any:
    """A copy of a batch-1 cache seen as batch n (the path for models without shared-head attention).

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


AttentionInterface.register(NAME, _attention)
AttentionMaskInterface.register(NAME, sdpa_mask)  # outside shared_head: the stock SDPA masks
