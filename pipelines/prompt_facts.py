"""What a dataset says about itself, as prompt wording: its name, description and label meanings.

A prompt that calls tweets "movie reviews", or asks for "great, other" with no hint of what
they mean, measures the wording's mistake, not the model. The prepared dataset's info
(``dataset.json``) carries a one-line ``description`` and ``label_descriptions`` ({label:
text}) written on the Data page (both optional); bundled datasets bring their own
(:mod:`pipelines.data_bundled`). This module turns them into the template placeholders
``{dataset}``, ``{description}`` and ``{label_descriptions}``, and into the LLM answer words:
a label described by a single word ("0" → "negative") is answered with that word, so the
label descriptions are the one place where what a label means is written.

Torch-free (the dashboard renders prompt previews with it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REVIEW_WORDS = re.compile(r"\breviews?\b|\bcritics?\b", re.I)


@dataclass(frozen=True)
class DatasetFacts:
    name: str = ""
    description: str = ""
    label_descriptions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "label_descriptions": dict(self.label_descriptions)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> DatasetFacts:
        d = d or {}
        return cls(str(d.get("name") or ""), str(d.get("description") or ""),
                   {str(k): str(v) for k, v in (d.get("label_descriptions") or {}).items() if str(v).strip()})

    @property
    def about_reviews(self) -> bool:
        """The dataset says its texts are reviews (only then may a template call them reviews)."""
        return bool(REVIEW_WORDS.search(self.description))

    def answer_word(self, label: str) -> str | None:
        """A label's description when it is a single word (the answer an LLM should give), else None."""
        text = self.label_descriptions.get(str(label), "").strip().rstrip(".")
        return text.lower() if re.fullmatch(r"[A-Za-z][A-Za-z\-']{0,24}", text) else None

    def placeholders(self, labels: Sequence[str], words: Sequence[str]) -> dict[str, str]:
        """``{dataset}``, ``{description}``, ``{label_descriptions}`` for a template's instruction.

        ``words``: the answer word of each label; a label's line is left out when its
        description says no more than its answer word.
        """
        desc = self.description.strip()
        if desc and desc[-1] not in ".!?":
            desc += "."
        lines = []
        for lab, word in zip(labels, words):
            meaning = self.label_descriptions.get(str(lab), "").strip()
            if meaning and meaning.lower().rstrip(".") != word.lower():
                lines.append(f"- {word}: {meaning}")
        return {"dataset": self.name.replace("_", " ").strip(), "description": desc,
                "label_descriptions": "\n".join(lines)}


def dataset_facts(info: Mapping[str, Any] | None) -> DatasetFacts:
    """Facts from a prepared dataset's info; a bundled dataset's own wording fills what is missing."""
    from .data_bundled import BUNDLED

    info = info or {}
    desc = str(info.get("description") or "").strip()
    labels = {str(k): str(v) for k, v in (info.get("label_descriptions") or {}).items() if str(v or "").strip()}
    source = info.get("source") or {}
    bundled = BUNDLED.get(str(source.get("name"))) if source.get("kind") == "bundled" else None
    if bundled is not None:
        desc = desc or bundled.about
        labels = {**bundled.label_descriptions, **labels}
    name = str(info.get("name") or info.get("id") or "")
    if bundled is not None and name != bundled.name:  # rt_small, a sample of rotten_tomatoes: the source's name
        name = bundled.name
    return DatasetFacts(name, desc, labels)
