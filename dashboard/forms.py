"""Streamlit inputs generated from a config dataclass: one widget per field, help from its metadata.

The job dataclasses (``FinetuneConfig``, ``PromptConfig``) are the single place a knob is
defined; the CLI builds its flags and this module builds the form from the same
``configs.config_fields``, so defaults and help texts can never drift apart, and the
dataclass's own ``__post_init__`` refuses an out-of-range value either way.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import streamlit as st

from pipelines.configs import FieldInfo, config_fields


def _parse(text: str, tp: Any, name: str) -> Any:
    if typing.get_origin(tp) in (list, tuple):
        inner = (typing.get_args(tp) or (str,))[0]
        return [_parse(p.strip(), inner, name) for p in text.split(",") if p.strip()]
    try:
        if tp is int:
            return int(text)
        if tp is float:
            return float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a{'n integer' if tp is int else ' number'}") from None
    return text


AUTO = "(default)"


def field_input(f: FieldInfo, key: str, value: Any = dataclasses.MISSING, choices: list[str] | None = None) -> Any:
    """One widget for one field; returns the parsed value (raises ValueError with the field's name).

    ``choices`` turns a free-text field into a select box (an optional field gets a "(default)" entry).
    Ranges are checked by the config dataclass itself when the form's values build it.
    """
    tp, optional = f.type, f.optional
    default = f.default if value is dataclasses.MISSING else value
    label = f.label
    help_ = f.help or None
    choices = choices or (list(f.choices) if f.choices else None)
    if choices:
        opts = ([AUTO] if optional else []) + list(choices)
        picked = st.selectbox(label, opts, index=opts.index(default) if default in opts else 0, help=help_, key=key)
        return None if picked == AUTO else picked
    if tp is bool:
        return st.checkbox(label, value=bool(default), help=help_, key=key)
    if not optional and tp is int and not isinstance(default, bool):
        return int(st.number_input(label, value=int(default or 0), step=1, help=help_, key=key))
    if not optional and tp is float:
        return float(st.number_input(label, value=float(default or 0.0), format="%g", help=help_, key=key))
    # str, lists and optional numbers: a text box; blank means "default / auto" (None)
    if isinstance(default, (list, tuple)):
        shown = ", ".join(map(str, default))
    else:
        shown = "" if default is None else str(default)
    text = st.text_input(label, value=shown, help=help_, key=key,
                         placeholder="auto" if optional else None).strip()
    if not text:
        if optional:
            return None
        if f.is_list:
            return []
        if tp is str:
            return ""
        raise ValueError(f"{label}: a value is required")
    return _parse(text, tp, label)


def config_form(cls: type, prefix: str, fixed: dict[str, Any], main: list[str], columns: int = 3,
                values: dict[str, Any] | None = None,
                choices: dict[str, list[str]] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Inputs for every field of ``cls`` not in ``fixed``: ``main`` fields in view (in that order), the rest
    in an expander.

    Returns (config dict, errors). ``values`` overrides defaults (e.g. a preset); ``choices`` gives
    select-box options for free-text fields (e.g. the installed prompt templates).
    """
    values = values or {}
    choices = choices or {}
    out: dict[str, Any] = dict(fixed)
    errors: list[str] = []
    fields = {f.name: f for f in config_fields(cls, skip=tuple(fixed))}
    first = [fields[name] for name in main if name in fields]
    rest = [f for f in fields.values() if f.name not in main]

    def render(group: list[FieldInfo]) -> None:
        cols = st.columns(columns)
        for i, f in enumerate(group):
            with cols[i % columns]:
                try:
                    out[f.name] = field_input(f, f"{prefix}_{f.name}", values.get(f.name, dataclasses.MISSING),
                                              choices.get(f.name))
                except ValueError as exc:
                    errors.append(str(exc))

    render(first)
    if rest:
        with st.expander(f"All settings ({len(rest)} more)"):
            render(rest)
    return out, errors
