"""The exact prompt a prompt run will send, rendered without a model (the Runs page's preview).

The user reads and may edit the template before queueing; what they see must be what the
job renders, so the preview goes through the same pieces as the job: the same template
resolution (:func:`prompting_templates.resolve_template` with the dataset's facts), the same
few-shot draw (seeded, from the train split) and the same :class:`PromptBuilder`. Only the
chat wrapping is left out (it needs the model's tokenizer): a chat model gets the same
instruction, examples and query as user/assistant turns.

Torch-free: the dashboard imports it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from .prepared import PreparedDataset
from .prompt_facts import dataset_facts
from .prompting_templates import PromptBuilder, resolve_template, select_examples


def template_text(config: dict[str, Any], ds: PreparedDataset) -> tuple[str, str]:
    """(template name, its YAML text) that a prompt config would use on this dataset."""
    task = "multi_label" if ds.multi_label else "single_label"
    tpl = resolve_template(config.get("template"), task, config.get("mode", "zero"), ds.labels,
                           dataset_facts(ds.info))
    return tpl.name, tpl.source


def _builder(config: dict[str, Any], ds: PreparedDataset) -> PromptBuilder:
    task = "multi_label" if ds.multi_label else "single_label"
    facts = dataset_facts(ds.info)
    tpl = resolve_template(config.get("template"), task, config.get("mode", "zero"), ds.labels, facts)
    examples = []
    if config.get("mode") == "few":
        examples = select_examples(ds.train, ds.labels, int(config.get("k") or 2), int(config.get("seed") or 42),
                                   ds.multi_label)
    return PromptBuilder(tpl, ds.labels, ds.multi_label, examples, facts=facts)


def label_words(config: dict[str, Any], ds: PreparedDataset) -> dict[str, str]:
    """Each label's verbaliser (the word the model answers with, or is asked about when multi-label)."""
    b = _builder(config, ds)
    return dict(zip(b.labels, b.verbalizers))


def with_verbalizers(source: str, words: Mapping[str, str]) -> str:
    """The template YAML with its ``verbalizers`` mapping replaced by ``words`` (label → word).

    The Runs page's per-label fields write here, so the edited template (recorded verbatim in
    the run's config) holds every label's word; the rest of the text is left as the user wrote it.
    """
    lines, out, skipping = source.rstrip("\n").split("\n"), [], False
    for line in lines:
        if re.match(r"verbalizers\s*:", line):
            skipping = True
            continue
        if skipping and (not line.strip() or line[:1] in " \t"):
            continue
        skipping = False
        out.append(line)
    block = yaml.safe_dump({"verbalizers": {str(k): str(v) for k, v in words.items()}}, sort_keys=False,
                           allow_unicode=True, default_flow_style=False)
    return "\n".join(out) + "\n" + block


def render(config: dict[str, Any], ds: PreparedDataset, text: str | None = None) -> tuple[str, list[str]]:
    """(the plain-text prompt of ``config`` for one text (default: the first test text), the answer
    words scored after it).

    Multi-label prompts ask one question per label: the first label's question is shown.
    Raises ValueError with the template's own message when the template is broken.
    """
    builder = _builder(config, ds)
    if text is None:
        text = str(ds.test["text"].iloc[0]) if len(ds.test) else ""
    return builder.prompt(text), builder.answers
