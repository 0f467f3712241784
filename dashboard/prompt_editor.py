"""The Runs page's prompt editor: read the exact prompt, and edit its template, before queueing.

What the model is asked decides much of an LLM baseline's score, so the prompt is shown as
the job will render it (``pipelines.prompt_preview``: the same template resolution with the
dataset's own description and label descriptions, the same few-shot draw) for one test text.
The template's YAML is editable; an edited text replaces the template name in the job config
(``load_template`` reads YAML text as well as names), so the run's config records exactly
what was asked. Torch-free, like the whole dashboard.
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from dashboard import state
from pipelines import prompt_preview


def prompt_editor(cfg: dict[str, Any], errors: list[str]) -> None:
    """Show and optionally edit the prompt of ``cfg`` (a PromptConfig dict, edited in place)."""
    ds = state.prepared_dataset(cfg.get("dataset")) if cfg.get("dataset") else None
    if ds is None:
        return
    try:
        name, source = prompt_preview.template_text(cfg, ds)
    except (ValueError, FileNotFoundError) as exc:
        errors.append(str(exc))
        return
    chosen = "chosen" if cfg.get("template") else "default for this dataset"
    with st.expander(f"Prompt: template **{name}** ({chosen}), preview and edit", expanded=False):
        digest = hashlib.sha1(source.encode()).hexdigest()[:8]  # a new template resets the editor
        edited = st.text_area("Template (YAML): edit it to change what the model is asked", value=source,
                              height=260, key=f"prompt_template_{digest}",
                              help="The fields are described in pipelines/prompts/README.md. The edited text is "
                                   "saved into the job's config and the run's config.json.")
        if edited.strip() and edited != source:
            cfg["template"] = edited if "\n" in edited else edited + "\n"
            st.caption("Edited: the job runs this text instead of the shipped template.")
        try:
            _verbalizer_fields(cfg, ds, edited if edited.strip() else source)
            prompt, answers = prompt_preview.render(cfg, ds)
        except (ValueError, FileNotFoundError) as exc:
            errors.append(f"the prompt template: {exc}")
            return
        st.markdown("**The prompt for the first test text** (a chat model gets the same instruction, examples "
                    "and text as chat turns):")
        st.code(prompt, language=None, wrap_lines=True)
        st.caption("Scored after it, one probability each: " + ", ".join(f"`{a}`" for a in answers))


def _verbalizer_fields(cfg: dict[str, Any], ds: Any, text: str) -> None:
    """One field per label: the word the model answers with (its verbaliser), editable for any number
    of classes. Words start from the template's ``verbalizers``, else a one-word label description
    (Data page), else the label; a changed word is written into the template's ``verbalizers``."""
    words = prompt_preview.label_words(cfg, ds)
    st.markdown("**Answer word per label** (verbaliser; label descriptions on the Data page set the starting "
                "words):")
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    cols = st.columns(min(4, len(words)) or 1)
    chosen = {lab: cols[i % len(cols)].text_input(lab, value=word, key=f"verbalizer_{digest}_{i}").strip() or word
              for i, (lab, word) in enumerate(words.items())}
    if chosen != words:
        cfg["template"] = prompt_preview.with_verbalizers(text, chosen)
        st.caption("Answer words edited: written into the template's `verbalizers`.")
