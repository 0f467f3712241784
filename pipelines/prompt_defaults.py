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
SUMMARY = "Gemma 3 270M for zero-shot above two classes and for multi-label few-shot; SmolLM2 otherwise"
CALIBRATION_NOTE = {
    "zero": "zero-shot small LLMs answer one label for almost every text; calibrating with domain words undoes it "
            "(SmolLM2 on bbc_news: macro-F1 0.077 raw, 0.437 content-free inputs, 0.671 domain words)",
    "few": "few-shot answers still lean to a few labels; domain calibration evens them out (SmolLM2 2-shot/class: "
           "bbc_news 0.688 → 0.864, 3-class user file 0.358 → 0.680, bbc business/tech 0.405 → 0.878; the one "
           "loss measured, Rotten Tomatoes 0.791 → 0.725, is smaller than any of these gains)",
    "multi_label": "yes/no per label, calibrated with domain words (movie_genres 2-shot: Gemma 0.294 → 0.303)",
}
MULTICLASS_NOTE = ("Gemma 3 270M measured best above two classes (calibrated zero-shot macro-F1, Gemma vs SmolLM2: "
                   "bbc_news 0.801 vs 0.671, 3-class user file 0.667 vs 0.293)")
FEW_SHOT_NOTE = ("SmolLM2 calibrated 2-shot/class measured best over five sets: bbc_news 0.845 vs Gemma 0.793 at 1/11 "
                 "of its time (70 s vs 758 s), 3-class user file 0.680 vs 0.659, two classes: bbc business/tech "
                 "0.878 vs 0.576 and Rotten Tomatoes 0.725 vs 0.830 (mean over the two 0.802 vs 0.703)")
MULTI_LABEL_FEW_NOTE = ("Gemma 3 270M calibrated 2-shot per label measured best on movie_genres (0.303 vs SmolLM2 "
                        "0.259)")
BINARY_ZERO_NOTE = ("SmolLM2 kept for zero-shot with two answers: calibrated, Rotten Tomatoes 0.758 vs Gemma 0.624, "
                    "but bbc_news business/tech 0.580 vs 0.784 and movie_genres yes/no per genre 0.262 vs 0.272 (no "
                    "consistent winner)")


def default_calibration(mode: str, scoring: str, labels: Sequence[str] = (), multi_label: bool = False,
                        ) -> tuple[bool, str]:
    """(calibrate?, why) when ``PromptConfig.calibrate`` is unset: every label-scoring run is calibrated
    (with domain words, the ``calibration`` default); generate mode has no probabilities.

    Few-shot with two classes was once left uncalibrated on the strength of Rotten Tomatoes alone
    (0.791 vs 0.725); on business/tech news the uncalibrated run collapsed (0.405 vs 0.878).
    """
    if scoring != "label":
        return False, "generate-and-parse answers have no probabilities to calibrate"
    if mode == "zero":
        return True, CALIBRATION_NOTE["zero"]
    return True, CALIBRATION_NOTE["multi_label" if multi_label else "few"]


def default_model(labels: Sequence[str], multi_label: bool, mode: str = "zero") -> tuple[str, str]:
    """(catalog name, why) of the default LLM for a dataset with these labels, in this mode.

    Zero-shot: SmolLM2 with two answers (two classes, or yes/no per label; the two models split
    there), Gemma above two classes, where it wins clearly. Few-shot, calibrated: SmolLM2 for
    single-label data, best on average and in the worst case over the five sets measured and
    a tenth of Gemma's time on long texts; Gemma for multi-label.
    """
    two = "yes/no per label" if multi_label else "two classes"
    if mode == "few":
        if multi_label:
            return GEMMA, f"default for multi-label few-shot: {MULTI_LABEL_FEW_NOTE}"
        return SMOLLM2, f"default for few-shot ({len(labels)} classes): {FEW_SHOT_NOTE}"
    if multi_label or len(labels) <= 2:
        return SMOLLM2, f"default for zero-shot with two answers ({two}): {BINARY_ZERO_NOTE}"
    return GEMMA, f"default for zero-shot with more than two classes ({len(labels)}): {MULTICLASS_NOTE}"
