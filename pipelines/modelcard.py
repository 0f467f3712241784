"""Publish a run: a Hub-ready folder with a model card, and an upload with ``upload_folder``.

``export_card(run)`` copies the run's ``model/`` (full weights, or LoRA adapter + head) with
its tokenizer and writes a ``README.md`` whose YAML front matter the Hub understands
(license, base_model, datasets, metrics, ``model-index`` results, ``co2_eq_emissions``) and
whose body gives the dataset and split hash, the training config, the test metrics with
their confidence intervals, and energy and CO2 per phase with the method CodeCarbon used to
measure each power (an estimate from CPU load is not a RAPL reading; the card says which).

``push(run, repo_id)`` uploads that folder when a token and a network exist. The token is
read from the usual Hugging Face places (``HF_TOKEN``, ``hf auth login``'s file) and only
ever handed to the client: never printed, logged or written into the export.

The export never touches what the workbench did not write: it is built in a fresh folder
next to the target and renamed into place, into a target that is new or empty (a non-empty
``--out`` is refused, naming it). Absolute paths of this machine (the virtualenv, the
workspace) never leave it: every JSON file of the export is rewritten with such paths made
relative to the workspace, or cut to their last component outside it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from . import assets, paths, runs
from .runfolder import RunFolder
from .store import Store

log = logging.getLogger(__name__)

METHOD_WORDS = {
    "rapl": "measured by Intel RAPL energy counters",
    "cpu_load:forced_tdp": "estimated from CPU load × a user-given TDP",
    "cpu_load:tdp_table": "estimated from CPU load × the CPU's TDP in CodeCarbon's table",
    "cpu_load:generic_tdp": "estimated from CPU load × a generic TDP",
    "cpu_load:assumed_4W_per_thread": "estimated from CPU load × an assumed 4 W per thread (CPU not in TDP table)",
    "constant_estimate": "a constant estimate (CodeCarbon's RAM model)",
    "forced": "a user-given constant",
    "nvml": "measured by NVIDIA NVML",
    "none": "not measured",
}


# ------------------------------------------------------------------ lookup
# Reference kinds whose model is a scikit-learn head saved with skops (the file in model/), exported like the rest.
SKLEARN_KINDS = {"tfidf": "tfidf_lr.skops", "probe": "head.skops", "setfit": "head.skops"}


def find_run(run: str, store: Store | None = None) -> Path:
    """A run id (from the store or the runs folder) or a run folder path → the folder."""
    p = Path(run)
    if p.is_dir() and RunFolder(p).config.is_file():
        return p
    row = (store or Store()).run(run)
    if row and Path(row["path"]).is_dir():
        return Path(row["path"])
    if runs.run_dir(run).is_dir():
        return runs.run_dir(run)
    raise FileNotFoundError(f"no run {run!r}: give a run id from `python -m pipelines runs list` or a run folder")


def _base_model(model: str) -> tuple[str | None, str | None]:
    """(Hub id of the base model, its licence) for a config's ``model`` value."""
    from .model_files import card_metadata

    if model in assets.ASSETS:
        a = assets.ASSETS[model]
        return a.hub_id, a.license
    for a in assets.ASSETS.values():
        if model == a.hub_id:
            return a.hub_id, a.license
    if Path(model).is_dir():
        return None, card_metadata(Path(model)).get("license")
    snap = assets.hub_snapshot(model)
    lic = card_metadata(Path(snap)).get("license") if snap else None
    if not lic:  # the search's details cache knows the licence of models seen on the Hub
        for key, raw in Store().items("hub").items():
            if key.endswith("/" + model) and isinstance(raw, dict):
                lic = (raw.get("cardData") or {}).get("license") or next(
                    (t.split(":", 1)[1] for t in raw.get("tags") or [] if str(t).startswith("license:")), None)
                if lic:
                    break
    return model if model.count("/") == 1 else None, lic


# ------------------------------------------------------------------ render
def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _ci(ci: Any) -> str:
    return f"{ci[0]:.4f} – {ci[1]:.4f}" if isinstance(ci, list | tuple) and len(ci) == 2 else "–"


def _sci(v: float | None) -> str:
    return "not measured" if v is None else f"{v:.3g}"


def front_matter(cfg: dict[str, Any], metrics: dict[str, Any], base_id: str | None, license: str | None,
                 name: str, adapter: bool) -> str:
    """The YAML block (via huggingface_hub's ModelCardData, so the Hub parses it)."""
    from huggingface_hub import EvalResult, ModelCardData

    ds = cfg.get("dataset", {})
    ds_id = ds.get("id", "unknown")
    multi = ds.get("task") == "multi_label"
    results = []
    for key, mtype, mname, mconf in (("accuracy", "accuracy", "Accuracy", None),
                                     ("macro_f1", "f1", "Macro F1", "macro"),
                                     ("micro_f1", "f1", "Micro F1", "micro"),
                                     ("roc_auc", "roc_auc", "ROC AUC", None)):
        if isinstance(metrics.get(key), int | float):
            results.append(EvalResult(task_type="text-classification", dataset_type=ds_id, dataset_name=ds_id,
                                      dataset_split="test", dataset_revision=ds.get("split_hash"),
                                      metric_type=mtype, metric_value=round(float(metrics[key]), 4),
                                      metric_name=mname, metric_config=mconf))
    extra: dict[str, Any] = {}
    em = metrics.get("emissions") or {}
    if em.get("total_co2_kg") is not None:
        phases = em.get("phases") or [{}]
        extra["co2_eq_emissions"] = {
            "emissions": round(em["total_co2_kg"] * 1000, 4), "source": "CodeCarbon (offline tracker)",
            "training_type": "fine-tuning", "geographical_location": em.get("country_iso_code"),
            "hardware_used": phases[0].get("cpu_model") or "CPU"}
    method = cfg.get("config", {}).get("method")
    tags = ["text-classification", "workbench", *(["multi-label-classification"] if multi else []),
            *(["peft", "lora"] if adapter else [f"{method}-fine-tune"] if method else [])]
    card = ModelCardData(license=license or "other", base_model=base_id, datasets=[ds_id],
                         library_name="peft" if adapter else "transformers", pipeline_tag="text-classification",
                         tags=tags, metrics=sorted({r.metric_type for r in results}), model_name=name,
                         eval_results=results or None, **extra)
    return card.to_yaml()


def render_card(cfg: dict[str, Any], metrics: dict[str, Any], run_id: str, base_id: str | None,
                license: str | None, adapter: bool, meta: dict[str, Any]) -> str:
    conf = cfg.get("config", {})
    ds = cfg.get("dataset", {})
    name = f"{Path(conf.get('model', 'model')).name}-{conf.get('method', 'ft')}-{ds.get('id', 'data')}"
    labels = ds.get("labels") or meta.get("labels") or []
    base = base_id or conf.get("model")
    lines = ["---", front_matter(cfg, metrics, base_id, license, name, adapter).rstrip(), "---", "",
             f"# {name}", "",
             f"`{base}` fine-tuned ({conf.get('method', '?')}) for "
             f"{str(ds.get('task') or 'single_label').replace('_', '-')} text classification on `{ds.get('id')}` "
             f"with the model-comparison workbench (run `{run_id}`).", "",
             "## Data", "",
             f"- dataset: `{ds.get('id')}`; split hash `{ds.get('split_hash')}` (the exact train/validation/test "
             "split these numbers come from)",
             f"- labels ({len(labels)}): " + ", ".join(f"`{x}`" for x in labels),
             f"- test examples: {metrics.get('n', '?')}", "",
             "## Results on the test split", "",
             "| metric | value | 95% CI (bootstrap) |", "|---|---|---|"]
    for key, label in (("accuracy", "accuracy"), ("macro_f1", "macro F1"), ("micro_f1", "micro F1"),
                       ("weighted_f1", "weighted F1"), ("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"),
                       ("subset_accuracy", "subset accuracy"), ("hamming_loss", "Hamming loss")):
        if metrics.get(key) is not None:
            lines.append(f"| {label} | {_num(metrics[key])} | {_ci(metrics.get(key + '_ci'))} |")
    per_class = metrics.get("per_class") or {}
    if per_class:
        lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for lab, row in per_class.items():
            lines.append(f"| {lab} | {_num(row.get('precision'))} | {_num(row.get('recall'))} | "
                         f"{_num(row.get('f1'))} | {row.get('support', '–')} |")
    em = metrics.get("emissions") or {}
    lines += ["", "## Energy and CO2", ""]
    if em:
        lines += [f"Total energy: **{_sci(em.get('total_energy_kwh'))} kWh**; "
                  f"CO2eq: **{_sci(em.get('total_co2_kg'))} kg** for the grid of `{em.get('country_iso_code')}` "
                  f"(energy × that country's carbon intensity); {_num(em.get('duration_s'), 1)} s tracked.", "",
                  "| phase | energy (kWh) | CO2eq (kg) | duration (s) | CPU power | RAM power | GPU power |",
                  "|---|---|---|---|---|---|---|"]
        for ph in em.get("phases") or []:
            lines.append(
                f"| {ph.get('phase')} | {_sci(ph.get('energy_kwh'))} | {_sci(ph.get('co2_kg'))} | "
                f"{_num(ph.get('duration_s'), 1)} | {ph.get('cpu_method')} | {ph.get('ram_method')} | "
                f"{ph.get('gpu_method')} |")
        methods = {m for ph in em.get("phases") or [] for m in (ph.get("cpu_method"), ph.get("ram_method"),
                                                                   ph.get("gpu_method")) if m}
        lines += ["", f"Measured with CodeCarbon {cfg.get('versions', {}).get('codecarbon', '')} "
                      "(OfflineEmissionsTracker, no network). Measuring methods:"]
        lines += [f"- `{m}`: {METHOD_WORDS.get(m, m)}" for m in sorted(methods)]
        rules = {(a.get("convention"), a.get("cpu"), a.get("ram"), a.get("gpu"))
                 for ph in em.get("phases") or [] if (a := ph.get("attribution"))}
        for convention, cpu, ram, gpu in sorted(rules, key=str):
            lines += ["", f"Whose energy: {convention} (the job ran in its own process; CodeCarbon's raw "
                          f"process-mode figures are in the run's emissions.csv). CPU: {cpu}; RAM: {ram}"
                          + (f"; GPU: {gpu}" if gpu else "") + "."]
        if not rules:
            lines += ["", "Whose energy: the whole machine's (measured before per-job attribution existed)."]
    else:
        lines.append("Energy was not recorded for this run.")
    lines += ["", "## Training configuration", "", "```json", json.dumps(conf, indent=2, sort_keys=True), "```"]
    train = metrics.get("train") or {}
    if train:
        lines += ["", "Training: " + ", ".join(f"{k} {v}" for k, v in train.items()
                                               if k in ("steps", "epochs_run", "best_step", "max_length",
                                                        "learning_rate", "train_samples", "device"))]
    lines += ["", "## How to load", "", "```python"]
    if cfg.get("kind") in SKLEARN_KINDS:
        from .linear_head import ALLOWED_TYPES

        lines += ["from skops.io import load", "",
                  "# scikit-learn, saved with skops (no pickle); trust exactly the types the workbench saves",
                  f"TRUSTED = {list(ALLOWED_TYPES)!r}",
                  f"model = load(\"<this repo>/{SKLEARN_KINDS[cfg['kind']]}\", trusted=TRUSTED)",
                  f"labels = {labels!r}  # workbench.json names the encoder and pooling a probe/SetFit head expects"]
    elif adapter:
        lines += ["from peft import PeftModel",
                  "from transformers import AutoModelForSequenceClassification, AutoTokenizer", "",
                  f"base = AutoModelForSequenceClassification.from_pretrained({base!r}, num_labels={len(labels)})",
                  "model = PeftModel.from_pretrained(base, \"<this repo>\")  # LoRA adapter + trained head",
                  "tokenizer = AutoTokenizer.from_pretrained(\"<this repo>\")",
                  f"labels = {labels!r}"]
    else:
        lines += ["from transformers import pipeline", "",
                  "classifier = pipeline(\"text-classification\", model=\"<this repo>\")"]
    lines += ["```", "", "## Versions", ""]
    lines += [f"- {k} {v}" for k, v in sorted((cfg.get("versions") or {}).items())]
    if cfg.get("git"):
        lines.append(f"- workbench git {cfg['git']}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ export
def portable(value: Any, home: Path | None = None) -> Any:
    """``value`` (JSON data) with every absolute local path replaced by one that says nothing
    about this machine: relative to the workspace ``home`` when inside it, else its last component."""
    if isinstance(value, dict):
        return {k: portable(v, home) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, home) for v in value]
    if isinstance(value, str) and os.path.isabs(value) and "\n" not in value:
        path = Path(value)
        home = home or paths.home()
        try:
            return path.resolve().relative_to(home.resolve()).as_posix()
        except (ValueError, OSError):
            return path.name
    return value


def _target(out: str | Path | None, run_id: str) -> Path:
    """Where the export goes: ``--out`` when new or empty; by default the first free exports/<run id>[-n]."""
    if out is not None:
        target = Path(out)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise ValueError(f"{target} already exists and is not an empty folder: choose a new --out "
                             "(the export never writes into or replaces a folder it did not create)")
        return target
    base = paths.models_dir() / "exports" / run_id
    target, n = base, 1
    while target.exists():
        n += 1
        target = base.with_name(f"{run_id}-{n}")
    return target


def _write_export(out: Path, folder: RunFolder, cfg: dict[str, Any], metrics: dict[str, Any]) -> None:
    """Fill the (new, empty) folder ``out`` with the run's model, its records and the card."""
    shutil.copytree(folder.model, out, dirs_exist_ok=True)
    adapter = (out / "adapter_config.json").is_file()
    meta_path = out / "workbench.json"
    meta = runs.read_json(meta_path) if meta_path.is_file() else {}
    base_id, license = _base_model(cfg.get("config", {}).get("model", ""))
    if adapter and base_id:
        # the adapter points at the base model by a local path on this machine; on the Hub it is the id
        ac = runs.read_json(out / "adapter_config.json")
        ac["base_model_name_or_path"] = base_id
        runs.write_json(out / "adapter_config.json", ac)
    if meta.get("base_model_path"):
        meta["base_model_path"] = None  # a path on this machine means nothing elsewhere
        runs.write_json(meta_path, meta)
    runs.write_json(out / "run_config.json", cfg)
    runs.write_json(out / "run_metrics.json", metrics)
    for path in out.rglob("*.json"):  # the copied model files too (adapter, tokenizer configs)
        data = runs.read_json(path)
        clean = portable(data)
        if clean != data:
            runs.write_json(path, clean)
    (out / "README.md").write_text(render_card(portable(cfg), portable(metrics), folder.path.name, base_id, license,
                                               adapter, meta))


def export_card(run: str, out: str | Path | None = None, store: Store | None = None) -> Path:
    """Write a Hub-ready folder for a run with weights of its own (fine-tune, tfidf, probe, setfit).

    ``out`` must be new or an empty folder (ValueError naming it otherwise); by default a new
    folder under models/exports/. Built next to the target and renamed into place, so a
    failure leaves no half export and nothing that was there is deleted.
    """
    folder = RunFolder(find_run(run, store))
    run_id = folder.path.name
    cfg = folder.read_config()
    if cfg.get("kind") not in ("finetune", *SKLEARN_KINDS):
        raise ValueError(f"run {run_id} is a {cfg.get('kind')!r} run: it has no weights of its own to publish "
                         "(an LLM baseline is its prompt and the LLM's own weights)")
    if not folder.metrics.is_file():
        raise FileNotFoundError(f"run {run_id} has no metrics.json (incomplete run?)")
    metrics = folder.read_metrics()
    if not folder.model.is_dir():
        raise FileNotFoundError(f"run {run_id} has no model/ folder to export")
    target = _target(out, run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    build = target.with_name(f".{target.name}.export-{uuid.uuid4().hex[:8]}")
    build.mkdir()
    try:
        _write_export(build, folder, cfg, metrics)
        if target.exists():
            target.rmdir()  # checked empty above; fails (and deletes nothing) if something arrived since
        build.rename(target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)  # our own build folder, never the target
        raise
    log.info("exported run %s to %s", run_id, target)
    return target


# -------------------------------------------------------------------- push
def push(run: str, repo_id: str, private: bool = False, settings: Any = None, store: Store | None = None,
         commit_message: str | None = None) -> str:
    """Export a run and upload it to ``repo_id``; returns the commit URL. One-line errors otherwise."""
    import httpx2
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    from .hub_http import HubError, HubSettings, call_bounded, get_json, offline_reason, run_with_deadline

    if repo_id.count("/") > 1 or not repo_id.strip("/"):
        raise ValueError(f"bad repo id {repo_id!r}: use NAME or OWNER/NAME")
    why = offline_reason()
    if why:
        raise ValueError(f"{why}: cannot push to the Hub; unset it to publish")
    token = get_token()
    if not token:
        raise ValueError("no Hugging Face token found: run `hf auth login` or set HF_TOKEN, then push again")
    s = settings or HubSettings()
    folder = find_run(run, store)
    # check the endpoint and the token within the usual bounds before a long upload
    try:
        run_with_deadline(lambda: call_bounded(lambda t: get_json(f"{s.url}/api/whoami-v2", None, token, t),
                                               "checking the token", s, time.monotonic() + s.deadline_s),
                          s.deadline_s + 1.0, "checking the token")
    except HubError as exc:
        if exc.status == 401:
            raise ValueError(f"the Hub at {s.url} rejected the token: log in again (`hf auth login`)") from exc
        raise ValueError(f"cannot reach the Hub at {s.url}: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="workbench-push-") as tmp:
        export = export_card(str(folder), Path(tmp) / folder.name, store)
        api = HfApi(endpoint=s.url, token=token)
        try:
            def upload() -> str:
                api.create_repo(repo_id, private=private, exist_ok=True)
                info = api.upload_folder(repo_id=repo_id, folder_path=str(export),
                                         commit_message=commit_message or f"workbench run {folder.name}")
                return str(getattr(info, "commit_url", info))

            url = run_with_deadline(upload, s.download_deadline_s, f"uploading to {repo_id}")
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise ValueError(f"upload to {repo_id} failed: HTTP {status} {str(exc).splitlines()[0][:160]}") from exc
        except HubError as exc:
            raise ValueError(str(exc)) from exc
        except (httpx2.HTTPError, OSError) as exc:  # the network went away mid-upload
            raise ValueError(f"upload to {repo_id} failed: {type(exc).__name__}: {exc}") from exc
    log.info("pushed run %s to %s", folder.name, repo_id)
    return url
