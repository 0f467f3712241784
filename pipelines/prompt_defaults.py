"""The LLM baselines' measured defaults that follow the dataset: which installed LLM, by number of classes.

``PromptConfig.model`` left unset (None) is derived here when the run starts, from the
dataset's labels, and recorded in the run's ``config.json`` (``resolved.model`` and
``resolved.model_why``) like the other derived defaults; a model given by name is never
changed. Configs stored before the default was derived name their model and load as they were.

Measured with ``bench/llm_multiclass.py`` (label scoring, default template, 150 test texts
per dataset, a seeded class-stratified sample; bench/RESULTS.md has the full tables):
the *_NOTE strings are the reasons written into each run. Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence

BINARY_LLM = "smollm2"
MULTICLASS_LLM = "gemma3-270m"
CALIBRATION_NOTE = {
    "zero": "zero-shot small LLMs answer one label for almost every text; calibrating with domain words undoes it "
            "(SmolLM2 on bbc_news: macro-F1 0.077 raw, 0.437 content-free inputs, 0.671 domain words)",
    "few_multiclass": "with more than two classes few-shot answers still lean to a few labels; domain calibration "
                      "evens them out (SmolLM2 2-shot/class: bbc_news 0.688 → 0.864, 3-class user file 0.358 → 0.680)",
    "few_binary": "with two classes the few-shot examples already set the label prior (SmolLM2 2-shot/class on "
                  "Rotten Tomatoes: 0.805 uncalibrated, 0.74 calibrated)",
}
MULTICLASS_NOTE = ("Gemma 3 270M measured best above two classes (calibrated zero-shot macro-F1, Gemma vs SmolLM2: "
                   "bbc_news 0.801 vs 0.671, 3-class user file 0.667 vs 0.293; calibrated 2-shot/class on the user "
                   "file 0.659 vs 0.680, a tie within the ±0.075 interval; bbc_news few-shot: SmolLM2 0.864, Gemma "
                   "not measured yet)")


FEW_SHOT_NOTE = ("SmolLM2 calibrated 2-shot/class measured bbc_news 0.864 and the 3-class user file 0.680 macro-F1 "
                 "(Gemma 0.659 there, a tie; Gemma few-shot on bbc_news did not finish in 37 min under load, "
                 "where its zero-shot took 2.5)")


def default_calibration(mode: str, scoring: str, labels: Sequence[str] = (), multi_label: bool = False,
                        ) -> tuple[bool, str]:
    """(calibrate?, why) when ``PromptConfig.calibrate`` is unset: zero-shot label scoring is calibrated
    (with domain words, the ``calibration`` default), few-shot only with more than two classes; generate
    mode has no probabilities."""
    if scoring != "label":
        return False, "generate-and-parse answers have no probabilities to calibrate"
    if mode == "zero":
        return True, CALIBRATION_NOTE["zero"]
    if len(labels) > 2 and not multi_label:
        return True, CALIBRATION_NOTE["few_multiclass"]
    return False, CALIBRATION_NOTE["few_binary"]


def default_model(labels: Sequence[str], multi_label: bool, mode: str = "zero") -> tuple[str, str]:
    """(catalog name, why) of the default LLM for a dataset with these labels, in this mode.

    Multi-label datasets ask one yes/no question per label, a two-answer task: the binary
    choice applies. Above two classes Gemma wins zero-shot clearly, but few-shot it ties
    SmolLM2 where both were measured (the user file) and SmolLM2 reached 0.864 on bbc_news,
    while Gemma's few-shot prompts (its 262k-word output layer, longer heads) ran many times
    slower there: few-shot keeps SmolLM2.
    """
    if multi_label or len(labels) <= 2:
        return BINARY_LLM, (f"default for two answers ({'yes/no per label' if multi_label else 'two classes'}): "
                            "SmolLM2 measured best on Rotten Tomatoes (bench/llm.py)")
    if mode == "few":
        return BINARY_LLM, (f"default for few-shot with more than two classes ({len(labels)}): {FEW_SHOT_NOTE}")
    return MULTICLASS_LLM, f"default for zero-shot with more than two classes ({len(labels)}): {MULTICLASS_NOTE}"
