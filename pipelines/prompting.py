"""LLM zero-/few-shot baselines: the ``prompt`` run kind and its predictor.

A prompting run produces the same run folder as a fine-tune (config.json, metrics.json,
predictions.parquet, emissions.csv, model/, log.txt) on the same test split, so the
leaderboard compares "just ask an LLM" with the encoders on equal terms.

The model is any :class:`pipelines.lm.LM` (``CausalLM`` for Hugging Face checkpoints; see
:mod:`pipelines.lm` for adding an LLM); only its interface members are used here.

- *label scoring* (default): softmax over the summed log-likelihood of each label word
  after the prompt (``LM.score``; ``CausalLM`` KV-caches the shared head once, bodies batched). A real
  probability per class, never an invalid answer. ``calibrate`` divides by the
  probabilities of content-free inputs ("N/A") and renormalises (Zhao et al., 2021): small
  models answer one label almost always, yet their scores rank well.
- *generate and parse*: greedy answer parsed with :func:`prompting_templates.parse_answer`;
  up to ``max_retries`` sampled retries with a new seed each, then the answer is recorded
  *invalid* (NaN scores, ``invalid`` column, counted wrong by the metrics).

Resumable: the test texts are scored in chunks saved under the job's work folder (keyed by
the config hash), so a cancelled or crashed job, retried with the same config, recomputes
only the chunks that were not finished. Nothing here imports torch at module level (the
dashboard imports :func:`demo_prompt_configs`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import runs
from .configs import PromptConfig
from .lm import LM
from .predictor import Predictor
from .prompt_chunks import PromptOutput, score_in_chunks
from .prompt_defaults import default_calibration, default_model
from .prompt_facts import DatasetFacts, dataset_facts
from .prompting_templates import (
    PromptBuilder,
    domain_inputs,
    parse_answer,
    parse_template,
    resolve_template,
    select_examples,
)
from .runfolder import RunFolder
from .runkind import RunKind

log = logging.getLogger(__name__)

# (prompts, sample, seed) -> generated answers; injectable so tests can feed junk.
Generator = Callable[[list[str], bool, int], list[str]]


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class PromptPredictor(Predictor):
    """An LLM + a rendered template behind the shared predictor interface.

    ``lm`` may be None only in generate mode with a ``generator`` (tests feed canned answers).
    """

    def __init__(self, lm: LM | None, builder: PromptBuilder, scoring: str = "label", calibrate: bool = False,
                 max_new_tokens: int = 8, max_retries: int = 2, seed: int = 42, generator: Generator | None = None,
                 calibration: np.ndarray | None = None, calibration_inputs: Sequence[str] | None = None,
                 reuse_prefix: bool = True):
        if scoring not in ("label", "generate"):
            raise ValueError(f"scoring must be 'label' or 'generate', got {scoring!r}")
        if calibrate and scoring != "label":
            raise ValueError("--calibrate applies to label scoring only (generated answers have no probabilities)")
        if lm is None and (scoring == "label" or generator is None):
            raise ValueError("a prompt predictor needs a language model (only generate mode with a generator can do without)")
        self.lm = lm
        self.builder = builder
        self.labels = list(builder.labels)
        self.multi_label = builder.multi_label
        self.thresholds = np.full(len(self.labels), 0.5) if self.multi_label else None
        self.scoring = scoring
        self.calibrate = calibrate
        self.max_retries = max_retries
        self.seed = seed
        self.reuse_prefix = reuse_prefix
        self.generator: Generator = generator or (
            lambda prompts, sample, seed: lm.generate(prompts, max_new_tokens=max_new_tokens, sample=sample, seed=seed))
        self._calibration = None if calibration is None else np.asarray(calibration, dtype=np.float64)
        self.calibration_inputs = list(calibration_inputs) if calibration_inputs is not None else list(
            builder.template.content_free)

    # -- label scoring
    def answer_probs(self, texts: Sequence[str]) -> np.ndarray:
        """n × questions × answers probabilities (single-label: one question, answers = labels)."""
        reqs = self.builder.requests(list(texts))
        ll = np.array(self.lm.score(reqs, reuse_prefix=self.reuse_prefix), dtype=np.float64)
        p = _softmax(ll)  # over every surface form, then summed per answer
        owner = np.array(self.builder.continuation_answer)
        p = np.stack([p[:, owner == j].sum(axis=1) for j in range(len(self.builder.answers))], axis=1)
        return p.reshape(len(texts), len(self.builder.heads), -1)

    def calibration(self) -> np.ndarray | None:
        """Mean answer probabilities over the calibration inputs (computed once)."""
        if not self.calibrate:
            return None
        if self._calibration is None:
            if not self.calibration_inputs:
                raise ValueError("calibration needs at least one content-free input (template content_free)")
            self._calibration = self.answer_probs(self.calibration_inputs).mean(axis=0)
        return self._calibration

    def _label_output(self, texts: Sequence[str]) -> PromptOutput:
        p = self.answer_probs(texts)
        cf = self.calibration()
        if cf is not None:
            p = p / cf[None]
            p = p / p.sum(axis=-1, keepdims=True)
        proba = p[:, :, 0] if self.multi_label else p[:, 0, :]
        words = self.builder.answers
        answers = ([" | ".join(f"{lab}={words[a]}" for lab, a in zip(self.labels, row)) for row in p.argmax(-1)]
                   if self.multi_label else [words[j] for j in proba.argmax(axis=1)])
        n = len(texts)
        return PromptOutput(proba, np.zeros(n, dtype=bool), answers, np.zeros(n, dtype=np.int64))

    # -- generate and parse
    def _parse(self, answer: str) -> int | None:
        hit = parse_answer(answer, self.builder.answers)
        if hit is None and not self.multi_label:  # the raw label name also counts ("fresh" for "positive")
            hit = parse_answer(answer, self.labels)
        return hit

    def _generate_output(self, texts: Sequence[str]) -> PromptOutput:
        q = len(self.builder.heads)
        prompts = [self.builder.prompt(t, j) for t in texts for j in range(q)]
        parsed: list[int | None] = [None] * len(prompts)
        raw = [""] * len(prompts)
        tries = np.zeros(len(prompts), dtype=np.int64)
        pending = list(range(len(prompts)))
        for attempt in range(1 + self.max_retries):
            if not pending:
                break
            # Greedy first; each retry samples with a new seed (a greedy retry would repeat itself).
            outs = self.generator([prompts[i] for i in pending], attempt > 0, self.seed + attempt)
            if len(outs) != len(pending):
                raise RuntimeError(f"generator returned {len(outs)} answers for {len(pending)} prompts")
            for i, out in zip(pending, outs):
                raw[i], tries[i], parsed[i] = out, tries[i] + 1, self._parse(out)
            pending = [i for i in pending if parsed[i] is None]
        n = len(texts)
        grid = np.array([-1 if v is None else v for v in parsed], dtype=np.int64).reshape(n, q)
        invalid = (grid < 0).any(axis=1)
        if self.multi_label:
            proba = (grid == 0).astype(np.float64)  # answer 0 is "yes"
            answers = [" | ".join(f"{lab}={raw[r * q + j].strip()!r}" for j, lab in enumerate(self.labels))
                       for r in range(n)]
        else:
            proba = np.zeros((n, len(self.labels)))
            ok = ~invalid
            proba[np.flatnonzero(ok), grid[ok, 0]] = 1.0
            answers = raw
        proba[invalid] = np.nan
        return PromptOutput(proba, invalid, answers, tries.reshape(n, q).sum(axis=1))

    # -- predictor interface
    def predict_detailed(self, texts: Sequence[str]) -> PromptOutput:
        texts = [str(t) for t in texts]
        if not texts:
            n_l = len(self.labels)
            return PromptOutput(np.zeros((0, n_l)), np.zeros(0, dtype=bool), [], np.zeros(0, dtype=np.int64))
        return self._label_output(texts) if self.scoring == "label" else self._generate_output(texts)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Label scoring: probabilities. Generate mode: one-hot, NaN rows for invalid answers."""
        return self.predict_detailed(texts).proba


# ------------------------------------------------------------------------ building
def build_predictor(cfg: PromptConfig, labels: Sequence[str], multi_label: bool, train: Any = None,
                    saved: dict[str, Any] | None = None, lm: LM | None = None,
                    generator: Generator | None = None, facts: DatasetFacts | None = None,
                    ) -> tuple[PromptPredictor, dict[str, Any]]:
    """Model + template + few-shot examples → predictor, and the ``prompt`` block for config.json.

    ``saved`` (a run's recorded prompt block) rebuilds exactly the run's prompt — template text
    and examples as recorded, not as the files read today. ``lm``: an already loaded model
    (any :class:`LM`); default: ``CausalLM.load(cfg.model)``. ``facts``: the dataset's own wording
    (:func:`pipelines.prompt_facts.dataset_facts`), recorded so a reload renders the same prompt.
    """
    from .llm import CausalLM

    task = "multi_label" if multi_label else "single_label"
    calibrate = (saved or {}).get("calibrate", cfg.calibrate)
    if calibrate is None:
        calibrate = default_calibration(cfg.mode, cfg.scoring, labels, multi_label)[0]
    if saved is not None:
        template = parse_template(saved["template_source"], saved.get("template", "saved"))
        examples = saved["examples"]
        cal_inputs = saved.get("calibration_inputs")
        facts = DatasetFacts.from_dict(saved.get("dataset_facts"))  # older runs: none, as they were rendered
    else:
        facts = facts or DatasetFacts()
        template = resolve_template(cfg.template, task, cfg.mode, labels, facts)
        examples = select_examples(train, labels, cfg.k, cfg.seed, multi_label) if cfg.mode == "few" else []
        cal_inputs = None
        if calibrate:
            cal_inputs = (domain_inputs(train["text"], cfg.seed) if cfg.calibration == "domain"
                          else template.content_free)
    model = cfg.model or (saved or {}).get("model") or default_model(labels, multi_label, cfg.mode)[0]
    lm = lm or CausalLM.load(model, device=cfg.device, batch_size=cfg.batch_size)
    builder = PromptBuilder(template, labels, multi_label, examples, chat=lm.chat_prompt if lm.chat else None,
                            clip=lambda t: lm.truncate(t, cfg.max_text_tokens), facts=facts)
    calibration = None if saved is None or saved.get("calibration") is None else np.array(saved["calibration"])
    predictor = PromptPredictor(lm, builder, cfg.scoring, calibrate, cfg.max_new_tokens, cfg.max_retries,
                                cfg.seed, generator=generator, calibration=calibration, calibration_inputs=cal_inputs)
    cal = predictor.calibration()
    meta = {
        "template": template.name, "template_source": template.source, "mode": cfg.mode,
        "k": cfg.k if cfg.mode == "few" else 0, "scoring": cfg.scoring, "calibrate": calibrate,
        "calibration": None if cal is None else cal.tolist(), "calibration_inputs": cal_inputs,
        "answers": builder.answers, "verbalizers": dict(zip(builder.labels, builder.verbalizers)),
        "model": model, "examples": examples, "heads": builder.heads, "dataset_facts": facts.to_dict(), "chat_template": bool(lm.chat), "model_path": lm.path,
    }
    return predictor, meta


# ----------------------------------------------------------------------------- job
def _fingerprint(cfg: PromptConfig, meta: dict[str, Any], ds_info: dict[str, Any], ids: list[int]) -> str:
    blob = json.dumps({"cfg": cfg.to_dict(), "heads": meta["heads"], "answers": meta["answers"],
                       "calibration_inputs": meta["calibration_inputs"], "split": ds_info["split_hash"], "ids": ids},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_prompt_job(config: dict[str, Any], ctx: Any) -> str:
    """Job kind ``prompt``: score the test split with an LLM, write the run folder, register the run."""
    from .data import ensure_prepared
    from .finish import SpeedPlan, finish_run

    cfg = PromptConfig.from_dict(config)
    ds = ensure_prepared(cfg.dataset)
    test = scored_test(ds.test, cfg.max_test_samples, ds.multi_label)
    if len(test) == 0:
        raise ValueError(f"dataset {ds.id!r} has no test texts to score")
    work = Path(ctx.work_dir)
    model, why = (cfg.model, None) if cfg.model else default_model(ds.labels, ds.multi_label, cfg.mode)
    ctx.progress(0.01, f"loading {model}")
    t0 = time.perf_counter()
    predictor, meta = build_predictor(cfg, ds.labels, ds.multi_label, train=ds.train, facts=dataset_facts(ds.info))
    lm = predictor.lm
    load_s = time.perf_counter() - t0
    reference = RunFolder(work).model
    reference.mkdir(exist_ok=True)
    runs.write_json(reference / "reference.json", {
        "model": model, "path": lm.path, "weights_saved": False,
        "note": "prompting baseline: the weights are the model's own; load_predictor rebuilds it from config.json"})

    texts = test["text"].astype(str).tolist()
    fingerprint = _fingerprint(cfg, meta, ds.info, test["id"].tolist())
    t1 = time.perf_counter()
    with ctx.track("inference", cfg.country_iso_code, cfg.cpu_power_watts):  # every attempt's energy counts
        out, chunk_stats = score_in_chunks(predictor, texts, work, fingerprint, cfg.chunk_size,
                                           progress=lambda f, msg: ctx.progress(0.02 + 0.9 * f, msg))
    infer_s = time.perf_counter() - t1
    extra: dict[str, list] = {"answer": out.answers}
    if cfg.scoring == "generate":
        extra["attempts"] = out.attempts.tolist()
    prompt_block = {
        "template": meta["template"], "mode": cfg.mode, "k": meta["k"], "scoring": cfg.scoring,
        "calibration": {"enabled": meta["calibrate"], "method": cfg.calibration if meta["calibrate"] else None,
                        "inputs": meta["calibration_inputs"], "probabilities": meta["calibration"]},
        "invalid": int(out.invalid.sum()), "retries_used": int(np.maximum(out.attempts - 1, 0).sum()),
        "few_shot_ids": [ex["id"] for ex in meta["examples"]],
        "head_tokens": [len(lm.encode(h)) for h in meta["heads"]],
        "chunks": chunk_stats, "inference_s": infer_s,
        # only meaningful when this attempt scored every chunk itself (not after a resume)
        "texts_per_s": len(texts) / infer_s if chunk_stats["resumed_chunks"] == 0 else None,
        "prefix_stats": dict(lm.stats),
    }
    model_info = {"total_params": lm.n_params(), "trainable_params": 0, "size_mb": lm.size_mb(),
                  "name": model, "path": lm.path, "device": str(lm.device), "load_s": load_s}
    method = f"{cfg.mode}-shot-{cfg.scoring}" + ("-cal" if meta["calibrate"] else "")
    shutil.rmtree(work / "chunks", ignore_errors=True)  # predictions.parquet holds them all from here on
    return finish_run(
        ctx, ds, predictor, config=cfg, model=model, method=method,
        name=cfg.run_name or default_run_name(cfg, meta["template"], model, meta["calibrate"]), model_info=model_info,
        blocks={"prompt": prompt_block}, test=test, proba=out.proba, invalid=out.invalid, extra_columns=extra,
        speed=SpeedPlan(n=cfg.speed_samples, n_latency=max(1, cfg.speed_samples // 4), batch_size=cfg.batch_size),
        config_extra={"prompt": meta, "resolved": _resolved(cfg, ds, model, why)})


def _resolved(cfg: PromptConfig, ds: Any, model: str, model_why: str | None) -> dict[str, Any]:
    """The derived defaults this run used and why (config.json ``resolved``), as the other kinds record theirs."""
    out: dict[str, Any] = {"model": model, "model_why": model_why or "given"}
    cal, why = ((cfg.calibrate, "given") if cfg.calibrate is not None
                else default_calibration(cfg.mode, cfg.scoring, ds.labels, ds.multi_label))
    return {**out, "calibrate": cal, "calibrate_why": why}


def scored_test(test: Any, n: int | None, multi_label: bool) -> Any:
    """The test texts a run with ``max_test_samples`` scores: a seeded, class-stratified sample in split
    order, the same for every run with the same N. Not the first N: bundled bbc_news's test split is
    sorted by label, so its first 150 texts held no tech article (measured; bench/llm_multiclass.py)."""
    from .data_split import subsample

    return test if n is None else subsample(test, n, 0, multi_label)


def default_run_name(cfg: PromptConfig, template: str, model: str | None = None, calibrate: bool | None = None) -> str:
    shots = "zero-shot" if cfg.mode == "zero" else f"{cfg.k}-shot/class"
    cal = ", calibrated" if (cfg.calibrate if calibrate is None else calibrate) else ""
    return f"{Path(model or cfg.model or '').name} {shots} {cfg.scoring} ({template}{cal})"


def load_predictor(run_dir: str | Path) -> PromptPredictor:
    """Rebuild a prompting run's predictor from its config.json (no weights are saved in the run)."""
    saved = RunFolder(run_dir).read_config()
    cfg = PromptConfig.from_dict(saved["config"])
    dataset = saved["dataset"]
    predictor, _ = build_predictor(cfg, dataset["labels"], dataset["task"] == "multi_label", saved=saved["prompt"])
    return predictor


def demo_prompt_configs(dataset_id: str, profile: str = "default") -> list[dict[str, Any]]:
    """The demo's LLM baselines: zero-shot (calibrated) and 2-shot/class, label scoring.

    The demo's own Rotten Tomatoes keeps its explicit SmolLM2 pair (few-shot uncalibrated: 0.791
    there against 0.725 calibrated), as stored before the defaults were derived. Any other
    dataset leaves model and calibration to the derived defaults (pipelines/prompt_defaults.py):
    uncalibrated few-shot collapsed on two-class news (0.405 against 0.878).
    """
    from .demo import DEFAULT_DATASET

    tiny = profile == "tiny"
    shrink: dict[str, Any] = {"max_test_samples": 16, "speed_samples": 4, "chunk_size": 8} if tiny else {}
    if dataset_id != DEFAULT_DATASET or _single_label_classes(dataset_id) > 2:
        common = dict(dataset=dataset_id, scoring="label", **shrink)
        return [PromptConfig(mode=m, **common).to_dict() for m in ("zero", "few")]  # named after model and template
    common = dict(dataset=dataset_id, model="smollm2", scoring="label", **shrink)
    zero = PromptConfig(mode="zero", calibrate=True, calibration="domain", run_name="SmolLM2 zero-shot", **common)
    # explicit, as stored before these defaults were derived: an upgrade must not make the demo re-run finished work
    few = PromptConfig(mode="few", k=2, calibrate=False, calibration="content_free", run_name="SmolLM2 few-shot",
                       **common)
    return [zero.to_dict(), few.to_dict()]


def _single_label_classes(dataset_id: str) -> int:
    """Number of classes of a prepared single-label dataset (0 when multi-label or not prepared yet)."""
    from .prepared import dataset_dir

    try:
        info = json.loads((dataset_dir(dataset_id) / "dataset.json").read_text())
    except (OSError, ValueError):
        return 0
    return 0 if info.get("task") == "multi_label" else len(info.get("labels") or [])


def expected_seconds(config: dict[str, Any]) -> float:
    """Rough time on 2 idle CPU cores, to order the queue (cheap first), not an ETA promise.

    Measured on the demo (SmolLM2, the 1,275 Rotten Tomatoes test texts, label scoring with the
    few-shot prefix reused): zero- and few-shot both about 1.6 min end to end, ~16 texts/s of
    scoring after ~20 s of loading; generate-and-parse is ~5× slower.
    """
    n = config.get("max_test_samples") or 1_300
    rate = 3.0 if config.get("scoring") == "generate" else 16.0
    return 20.0 + n / rate


KIND = RunKind(name="prompt", display="LLM zero/few-shot", config=PromptConfig, run=run_prompt_job,
               load_predictor=load_predictor, presets=demo_prompt_configs, cost=expected_seconds)
