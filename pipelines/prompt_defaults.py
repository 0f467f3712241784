"""The LLM baselines' measured defaults that follow the dataset: which installed LLM, by number of classes.

``PromptConfig.model`` left unset (None) is derived here when the run starts, from the
dataset's labels, and recorded in the run's ``config.json`` (``resolved.model`` and
``resolved.model_why``) like the other derived defaults; a model given by name is never
changed. Configs stored before the default was derived name their model and load as they were.

Measured with ``bench/llm_multiclass.py`` (label scoring, default template, 150 test texts
per dataset, a seeded class-stratified sample) and with whole-test-split runs through the
job path (``bench/defaults.py --llm``); bench/RESULTS.md has the full tables. The *_NOTE
strings are the reasons written into each run. Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence

SMOLLM2 = "smollm2"
GEMMA = "gemma3-270m"
SUMMARY = ("Gemma 3 270M for few-shot with two answers (two classes, or yes/no per label) and for zero-shot above "
           "two classes; SmolLM2 for zero-shot with two answers and for few-shot above two classes")
CALIBRATION_NOTE = {
    "zero": "zero-shot small LLMs answer one label for almost every text; calibrating with domain words undoes it "
            "(SmolLM2 on bbc_news: macro-F1 0.077 raw, 0.437 content-free inputs, 0.671 domain words)",
    "few_multiclass": "with more than two classes few-shot answers still lean to a few labels; domain calibration "
                      "evens them out (SmolLM2 2-shot/class: bbc_news 0.688 → 0.864, 3-class user file 0.358 → 0.680)",
    "few_binary": "with two classes the few-shot examples already set the label prior (SmolLM2 2-shot/class on "
                  "Rotten Tomatoes: 0.805 uncalibrated, 0.74 calibrated)",
}
MULTICLASS_NOTE = ("Gemma 3 270M measured best above two classes (calibrated zero-shot macro-F1, Gemma vs SmolLM2: "
                   "bbc_news 0.801 vs 0.671, 3-class user file 0.667 vs 0.293)")
FEW_SHOT_NOTE = ("SmolLM2 calibrated 2-shot/class measured best above two classes: bbc_news whole test split 0.845 "
                 "vs Gemma 0.793 at 1/11 of its time (70 s vs 758 s), 3-class user file 0.680 vs 0.659")
BINARY_FEW_NOTE = ("Gemma 3 270M 2-shot/class measured best with two answers (macro-F1, Gemma vs SmolLM2, whole test "
                   "splits): Rotten Tomatoes 0.852 vs 0.791 in the same time (76 s vs 77 s), bbc_news business/tech "
                   "cut to 300 characters 0.547 vs 0.405, movie_genres yes/no per genre 0.294 vs 0.275")
BINARY_ZERO_NOTE = ("SmolLM2 kept for zero-shot with two answers: calibrated, Rotten Tomatoes 0.758 vs Gemma 0.624, "
                    "but bbc_news business/tech 0.580 vs 0.784 and movie_genres yes/no per genre 0.262 vs 0.272 (no "
                    "consistent winner)")


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
    choice applies. Few-shot with two answers, Gemma won on all three sets measured at no
    extra time; zero-shot with two answers the two split, so SmolLM2 stays. Above two classes
    Gemma wins zero-shot clearly, while few-shot SmolLM2 scored higher on bbc_news at a
    tenth of Gemma's time (Gemma's long few-shot heads on long texts) and tied on the user file.
    """
    two = "yes/no per label" if multi_label else "two classes"
    if multi_label or len(labels) <= 2:
        if mode == "few":
            return GEMMA, f"default for few-shot with two answers ({two}): {BINARY_FEW_NOTE}"
        return SMOLLM2, f"default for zero-shot with two answers ({two}): {BINARY_ZERO_NOTE}"
    if mode == "few":
        return SMOLLM2, f"default for few-shot with more than two classes ({len(labels)}): {FEW_SHOT_NOTE}"
    return GEMMA, f"default for zero-shot with more than two classes ({len(labels)}): {MULTICLASS_NOTE}"
