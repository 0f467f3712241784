"""Prompt templates (YAML data files), few-shot example selection, prompt rendering, answer parsing.

Torch-free on purpose: the dashboard lists templates and shows rendered prompts without
loading a model. A template file in ``pipelines/prompts/`` holds::

    name, description
    task: single_label | multi_label
    modes: [zero, few]
    system: optional system message (chat models only)
    instruction: text before the examples; {labels} {labels_or} (single-label) or {label} (multi-label);
        {dataset} {description} {label_descriptions}: the dataset's own wording (prompt_facts.py); a
        line whose placeholders render empty is left out
    input: how a text is shown, with {text}
    answer: the answer line, with {answer}; the text before {answer} ("Sentiment:") ends the prompt
    separator: between instruction, examples and the query (default a blank line)
    verbalizers: {label: word}; labels not listed follow verbalizer_rule (lower | as_is)
    yes_answer, no_answer: the two answers of a multi-label question (default "yes" / "no"; quote
        them: YAML reads a bare yes/no as a boolean)
    content_free: inputs for contextual calibration (default ["N/A", "", "[MASK]"], averaged)
    case_variants: score "positive" and "Positive" as the same answer (default true)
    chat_examples: chat models: few-shot examples as user/assistant turns (default) or inline

Prompt layout, for a plain model::

    instruction SEP example_1 SEP ... example_n SEP input(text) "\\n" answer_prefix
    ^----------------- head (shared, KV-cached) ---^ ^------------ body ---------^

A chat model gets each few-shot example as a user turn (its input; the first one after the
instruction) and an assistant turn (its answer line), then the text as the last user turn;
the assistant turn opens with the answer prefix ("Sentiment:"), so the label word is the
first thing it says. The continuation is " " + verbaliser in both cases.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .lm import ScoreRequest
from .prompt_facts import DatasetFacts

TEMPLATE_DIR = Path(__file__).resolve().parent / "prompts"
DEFAULT_TEMPLATE = {"single_label": "dataset", "multi_label": "yesno"}
SINGLE, MULTI = "single_label", "multi_label"
_SENTINEL = "\x00TEXT\x00"


@dataclass
class Template:
    name: str
    task: str
    instruction: str
    input: str
    answer: str
    modes: list[str] = field(default_factory=lambda: ["zero", "few"])
    description: str = ""
    system: str | None = None
    separator: str = "\n\n"
    verbalizers: dict[str, str] = field(default_factory=dict)
    verbalizer_rule: str = "lower"
    yes_answer: str = "yes"
    no_answer: str = "no"
    content_free: list[str] = field(default_factory=lambda: ["N/A", "", "[MASK]"])
    case_variants: bool = True
    chat_examples: str = "turns"
    source: str = ""  # the YAML text, recorded verbatim in each run's config.json

    @property
    def answer_prefix(self) -> str:
        return self.answer.split("{answer}")[0].rstrip()

    def explicit_word(self, label: str) -> str | None:
        for key, word in self.verbalizers.items():
            if key.lower() == str(label).lower():
                return str(word)
        return None

    def verbalize(self, label: str) -> str:
        word = self.explicit_word(label)
        if word is not None:
            return word
        if self.verbalizer_rule == "as_is":
            return str(label)
        return re.sub(r"[_\-]+", " ", str(label)).strip().lower()


def parse_template(text: str, origin: str = "<string>") -> Template:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"template {origin} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"template {origin} must be a YAML mapping of fields")
    known = set(Template.__dataclass_fields__) - {"source"}
    unknown = {str(k) for k in data} - known
    if unknown:
        raise ValueError(f"template {origin}: unknown field(s) {', '.join(sorted(unknown))}; known: {sorted(known)}")
    missing = [k for k in ("name", "task", "instruction", "input", "answer") if not data.get(k)]
    if missing:
        raise ValueError(f"template {origin}: missing field(s) {', '.join(missing)}")
    for key in ("instruction", "input", "answer", "yes_answer", "no_answer", "separator"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"template {origin}: {key} must be a string, got {data[key]!r} (quote it in the YAML)")
    tpl = Template(**data, source=text)
    if tpl.task not in (SINGLE, MULTI):
        raise ValueError(f"template {origin}: task must be {SINGLE} or {MULTI}, got {tpl.task!r}")
    if "{text}" not in tpl.input or "{answer}" not in tpl.answer:
        raise ValueError(f"template {origin}: 'input' needs {{text}} and 'answer' needs {{answer}}")
    if tpl.chat_examples not in ("turns", "inline"):
        raise ValueError(f"template {origin}: chat_examples must be 'turns' or 'inline'")
    if tpl.verbalizer_rule not in ("lower", "as_is"):
        raise ValueError(f"template {origin}: verbalizer_rule must be 'lower' or 'as_is'")
    if not set(tpl.modes) <= {"zero", "few"} or not tpl.modes:
        raise ValueError(f"template {origin}: modes must be a non-empty subset of [zero, few]")
    return tpl


def list_templates() -> list[Template]:
    return [parse_template(p.read_text(), p.name) for p in sorted(TEMPLATE_DIR.glob("*.yaml"))]


def load_template(name_or_path: str) -> Template:
    """A shipped template by name (``classify``), any YAML file path, or the YAML text itself.

    YAML text (anything with a line break) is what the Runs page sends after the user edited
    the template: the job config then carries the exact prompt, and so does the run's config.
    """
    if "\n" in name_or_path:
        return parse_template(name_or_path, "edited template")
    path = Path(name_or_path)
    if not path.suffix:
        path = TEMPLATE_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        names = ", ".join(p.stem for p in sorted(TEMPLATE_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"no prompt template {name_or_path!r}; shipped templates: {names} "
                                "(or pass a path to a .yaml file)")
    return parse_template(path.read_text(), str(path))


SENTIMENT_LABELS = {"positive", "negative", "neutral", "pos", "neg", "fresh", "rotten"}


def default_template_name(task: str, labels: Sequence[str] = (), facts: DatasetFacts | None = None) -> str:
    """``review`` only where the dataset says its texts are reviews and the labels are sentiment;
    else ``dataset`` (worded from the dataset's own description) or ``yesno`` (multi-label).

    Tweets with positive/negative labels are not movie reviews: calling them so was the
    default before datasets could describe themselves.
    """
    if (task == SINGLE and labels and facts is not None and facts.about_reviews
            and {str(x).lower() for x in labels} <= SENTIMENT_LABELS):
        return "review"
    return DEFAULT_TEMPLATE[task]


def resolve_template(name: str | None, task: str, mode: str, labels: Sequence[str] = (),
                     facts: DatasetFacts | None = None) -> Template:
    tpl = load_template(name or default_template_name(task, labels, facts))
    if tpl.task != task:
        fits = [t.name for t in list_templates() if t.task == task]
        raise ValueError(f"template {tpl.name!r} is for {tpl.task} datasets, this one is {task}; use one of {fits}")
    if mode not in tpl.modes:
        raise ValueError(f"template {tpl.name!r} does not support {mode}-shot prompting (modes: {tpl.modes})")
    return tpl


# ------------------------------------------------------------------- few-shot examples
def select_examples(train: pd.DataFrame, labels: Sequence[str], k: int, seed: int, multi_label: bool,
                    ) -> list[dict[str, Any]]:
    """k examples per class from the *train* split: seeded, balanced, order shuffled.

    Single-label: k rows of each label. Multi-label: for each label, k rows with it and k
    without it (answers yes/no), kept per label because each label is its own question.
    Each example: {"id", "text", "label", "answer"} (answer: the label, or "yes"/"no").
    """
    if k < 1:
        raise ValueError(f"few-shot needs k >= 1 examples per class, got {k}")
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    if not multi_label:
        for lab in labels:
            pool = train.index[train["label"] == lab].tolist()
            if len(pool) < k:
                raise ValueError(f"label {lab!r} has {len(pool)} train example(s), fewer than k={k}; lower --k")
            for i in rng.sample(pool, k):
                out.append({"id": int(train.at[i, "id"]), "text": str(train.at[i, "text"]), "label": lab,
                            "answer": lab})
        rng.shuffle(out)
        return out
    has = train["labels"].map(set)
    for lab in labels:
        pos = train.index[has.map(lambda s, lab=lab: lab in s)].tolist()
        neg = train.index[has.map(lambda s, lab=lab: lab not in s)].tolist()
        if len(pos) < k or len(neg) < k:
            raise ValueError(f"label {lab!r} has {len(pos)} train rows with it and {len(neg)} without, "
                             f"fewer than k={k}; lower --k")
        chosen = [(i, "yes") for i in rng.sample(pos, k)] + [(i, "no") for i in rng.sample(neg, k)]
        rng.shuffle(chosen)
        out += [{"id": int(train.at[i, "id"]), "text": str(train.at[i, "text"]), "label": lab, "answer": a}
                for i, a in chosen]
    return out


def domain_inputs(texts: Sequence[str], seed: int, n: int = 20) -> list[str]:
    """Calibration inputs made of random words of the (train) texts, of typical text length.

    Domain-context calibration (Fei et al., 2023): a string of in-domain words carries the
    domain's label bias but no label evidence, which measured more robust here than "N/A"
    (SmolLM2 zero-shot on 200 Rotten Tomatoes texts, classify template: 0.425 uncalibrated,
    0.58 with content-free inputs, 0.715 with these; review template 0.735 vs 0.78).
    """
    rng = random.Random(seed)
    sample = list(texts)[:5000]
    words = [w for t in sample for w in str(t).split()]
    if not words:
        raise ValueError("domain calibration needs non-empty train texts")
    lengths = sorted(len(str(t).split()) for t in sample)
    size = min(64, max(3, lengths[len(lengths) // 2]))
    return [" ".join(rng.choice(words) for _ in range(size)) for _ in range(n)]


# ------------------------------------------------------------------------ rendering
class PromptBuilder:
    """Renders the prompt(s) of a template for texts; one question per label when multi-label.

    ``chat``: the model's chat template (``LM.chat_prompt``: messages → prompt string) or
    None for a plain-text prompt.
    """

    def __init__(self, template: Template, labels: Sequence[str], multi_label: bool,
                 examples: Sequence[dict[str, Any]] = (), chat: Callable[[list[dict[str, str]]], str] | None = None,
                 clip: Callable[[str], str] | None = None, facts: DatasetFacts | None = None):
        self.template = template
        self.labels = [str(x) for x in labels]
        self.multi_label = multi_label
        self.examples = list(examples)
        self.chat = chat
        self.clip = clip or (lambda t: t)
        self.facts = facts or DatasetFacts()
        self.verbalizers = self._answer_words()
        self._word = dict(zip(self.labels, self.verbalizers))
        words = self.verbalizers if not multi_label else [template.yes_answer, template.no_answer]
        if len({w.lower() for w in words}) != len(words) or not all(w.strip() for w in words):
            raise ValueError(f"template {template.name!r}: answers must be distinct and non-empty, got {words}")
        questions = [None] if not multi_label else self.labels
        self.heads: list[str] = []
        self._tails: list[str] = []
        for q in questions:
            head, tail = self._split(q)
            self.heads.append(head)
            self._tails.append(tail)

    @property
    def answers(self) -> list[str]:
        """The words a model may answer: verbalisers (single-label) or yes/no (multi-label)."""
        return [self.template.yes_answer, self.template.no_answer] if self.multi_label else list(self.verbalizers)

    @property
    def variants(self) -> list[list[str]]:
        """Surface forms scored for each answer; their probabilities are summed.

        Label scoring compares fixed strings, so "Positive" would be a different (unscored)
        answer from "positive": small chat models often start with a capital, and then the
        lower-case scores alone misread them (SmolLM2 zero-shot on RT: greedy generation said
        "Positive" for 77% of reviews while " positive" lost to " negative" on 79%).
        """
        out = []
        for a in self.answers:
            forms = [a, a[:1].upper() + a[1:], a.lower()] if self.template.case_variants else [a]
            out.append(list(dict.fromkeys(" " + f for f in forms)))
        return out

    @property
    def continuations(self) -> tuple[str, ...]:
        return tuple(c for forms in self.variants for c in forms)

    @property
    def continuation_answer(self) -> list[int]:
        """Answer index of each entry of :attr:`continuations`."""
        return [j for j, forms in enumerate(self.variants) for _ in forms]

    def _answer_words(self) -> list[str]:
        """Each label's answer word: the template's own mapping, else a one-word label description
        (prompt_facts), else the template's rule; description words only if they stay distinct."""
        t = self.template
        own = [t.explicit_word(lab) for lab in self.labels]
        described = [w if w is not None else self.facts.answer_word(lab) or t.verbalize(lab)
                     for lab, w in zip(self.labels, own)]
        if len({w.lower() for w in described}) == len(described):
            return described
        return [t.verbalize(lab) for lab in self.labels]

    def _instruction(self, label: str | None) -> str:
        v = self.verbalizers
        values = {"labels": ", ".join(v), "labels_or": ", ".join(v[:-1]) + " or " + v[-1] if len(v) > 1 else v[0],
                  "label": self._word[label] if label is not None else "",
                  **self.facts.placeholders(self.labels, v)}
        lines = []
        for line in self.template.instruction.split("\n"):
            try:
                text = line.format(**values)
            except (KeyError, IndexError) as exc:
                raise ValueError(f"template {self.template.name!r}: unknown placeholder {exc} in the instruction; "
                                 f"known: {', '.join('{' + k + '}' for k in values)}") from None
            if text.strip() or not re.search(r"\{\w+\}", line):  # drop lines emptied by a missing fact
                lines.append(text.rstrip())
        return "\n".join(lines).strip()

    def _answer(self, ex: dict[str, Any]) -> str:
        t = self.template
        if self.multi_label:
            return t.yes_answer if ex["answer"] == "yes" else t.no_answer
        return self._word.get(str(ex["answer"])) or t.verbalize(ex["answer"])

    def _split(self, label: str | None) -> tuple[str, str]:
        """(head, tail) around the text: head is shared by all texts, tail closes the prompt.

        Chat models get few-shot examples as earlier user/assistant turns ending with the
        answer line (``chat_examples: turns``): SmolLM2 4-shot on 200 RT texts scored 0.805
        that way against 0.43 with the examples pasted into one user message.
        """
        t = self.template
        shots = [ex for ex in self.examples if label is None or ex["label"] == label]
        instruction = self._instruction(label)
        query = t.input.format(text=_SENTINEL)
        if self.chat is not None and shots and t.chat_examples == "turns":
            messages = [{"role": "system", "content": t.system}] if t.system else []
            for i, ex in enumerate(shots):
                shown = t.input.format(text=self.clip(ex["text"]))
                messages.append({"role": "user", "content": instruction + t.separator + shown if i == 0 else shown})
                messages.append({"role": "assistant", "content": t.answer.format(answer=self._answer(ex))})
            messages.append({"role": "user", "content": query})
            full = self.chat(messages) + t.answer_prefix
        else:
            blocks = [t.input.format(text=self.clip(ex["text"])) + "\n" + t.answer.format(answer=self._answer(ex))
                      for ex in shots]
            user = t.separator.join([instruction, *blocks, query])
            if self.chat is None:
                full = user + "\n" + t.answer_prefix
            else:
                messages = [{"role": "system", "content": t.system}] if t.system else []
                full = self.chat([*messages, {"role": "user", "content": user}]) + t.answer_prefix
        head, tail = full.split(_SENTINEL)
        return head, tail

    def prompt(self, text: str, question: int = 0) -> str:
        return self.heads[question] + self.clip(text) + self._tails[question]

    def requests(self, texts: Sequence[str]) -> list[ScoreRequest]:
        """Single-label: one request per text; multi-label: text-major, one per (text, label)."""
        conts = self.continuations
        return [ScoreRequest(self.heads[q], self.clip(text) + self._tails[q], conts)
                for text in texts for q in range(len(self.heads))]


# --------------------------------------------------------------------------- parsing
def parse_answer(answer: str, choices: Sequence[str]) -> int | None:
    """Index of the choice a generated answer names, or None (invalid).

    The rule: look only at the first non-empty line, lowercased; a choice matches where it
    occurs as a whole word/phrase; the earliest match wins, and at the same position the
    longer phrase ("very positive" over "very"). No match → invalid, never a guess.
    """
    line = next((ln for ln in answer.strip().splitlines() if ln.strip()), "").lower()
    best: tuple[int, int, int] | None = None
    for j, choice in enumerate(choices):
        c = choice.strip().lower()
        if not c:
            continue
        m = re.search(r"(?<!\w)" + re.escape(c) + r"(?!\w)", line)
        if m and (best is None or (m.start(), -len(c)) < (best[0], -best[1])):
            best = (m.start(), len(c), j)
    return None if best is None else best[2]
