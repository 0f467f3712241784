"""``prompt``: LLM zero-/few-shot baseline runs; ``--template a b`` makes one run per template.

Prompt sensitivity is a known trap, so comparing templates is one flag away: every template
given becomes its own run (or queued job) on the same split, and the runs table shows the
spread. ``--list-templates`` prints the shipped templates. The default template is worded
from the dataset itself (``dataset``: its name, description and label descriptions; ``review``
only where the dataset says its texts are reviews), and the result table names the template
each run used. Progress (texts scored, ETA) goes to stderr while the texts are scored.
"""

from __future__ import annotations

import dataclasses

from ..configs import PromptConfig, add_dataclass_args
from ..textout import format_table
from .common import UserError
from .finetune import add_seeds_flag


def register(sub) -> None:
    p = sub.add_parser("prompt", help="LLM zero-/few-shot baseline (label scoring or generate-and-parse)",
                       description="Score the test split with a causal LM: zero- or few-shot, label scoring "
                                   "(default) or generate-and-parse; one run per --template.")
    add_dataclass_args(p, PromptConfig, skip=("template",))
    p.add_argument("--template", dest="template", nargs="+", default=None,
                   help="template name(s) in pipelines/prompts/ or YAML path(s); several → one run each "
                        "(default: dataset, worded from the dataset's description and label descriptions; "
                        "review where the dataset says it holds reviews with sentiment labels; yesno for "
                        "multi-label)")
    p.add_argument("--queue", action="store_true", help="enqueue the job(s) for the worker instead of running now")
    p.add_argument("--list-templates", action="store_true", help="list the shipped templates and exit")
    add_seeds_flag(p, "few-shot: repeat the run over N seeds (--seed, --seed+1, …), each drawing other examples, as "
                      "one seed group: Compare and the verdict then show the spread across draws (default 1)")
    p.set_defaults(func=_prompt)


def configs_from_args(args) -> list[PromptConfig]:
    names = {f.name for f in dataclasses.fields(PromptConfig)} - {"template"}
    base = {k: v for k, v in vars(args).items() if k in names}
    templates = args.template or [None]
    if len(set(templates)) != len(templates):
        raise UserError(f"--template lists a template twice: {templates}")
    return [PromptConfig(**base, template=t) for t in templates]


def _prompt(args) -> int:
    from ..prompting_templates import list_templates, load_template

    if args.list_templates:
        print(format_table([{"name": t.name, "task": t.task, "modes": ",".join(t.modes), "description": t.description}
                            for t in list_templates()]))
        return 0
    from ..model_check import check_device, check_model

    configs = configs_from_args(args)
    for cfg in configs:  # fail fast on a bad name before loading any model
        if cfg.template:
            load_template(cfg.template)
    if configs[0].model:  # None: derived from the dataset's classes when the job starts (prompt_defaults.py)
        check_model(configs[0].model, "llm")
    check_device(configs[0].device)
    from ..store import Store

    store = Store()
    if args.seeds > 1:
        return _seeds(store, configs, args)
    if args.queue:
        from ..jobs import submit

        ids = [submit(store, "prompt", cfg.to_dict()) for cfg in configs]
        print(f"queued prompt job(s) {ids}; run `python -m pipelines worker` to execute them")
        return 0
    from .. import collapse
    from ..jobs import run_now
    from ..runfolder import RunFolder

    rows, warnings, failed = [], [], 0
    for cfg in configs:
        job = run_now("prompt", cfg.to_dict(), store, progress=True)
        if job["status"] != "done":
            failed += 1
            print(f"job {job['id']} {job['status']}: {(job.get('error') or '').splitlines()[0] if job.get('error') else ''}")
            continue
        run = store.run(job["run_id"])
        s = run["summary"]
        metrics = RunFolder(run["path"]).read_metrics()
        rows.append({"run": run["id"], "template": (metrics.get("prompt") or {}).get("template"),
                     "accuracy": s.get("accuracy"), "macro_f1": s.get("macro_f1"),
                     "invalid_rate": s.get("invalid_rate"), "texts/s": s.get("throughput")})
        dist = collapse.for_run(run["path"], metrics)
        if dist and dist.get("warning"):
            warnings.append(f"warning: {run['id']}: {dist['warning']}\n  {collapse.shares_text(dist)}")
    if rows:
        print(format_table(rows))
    for line in warnings:
        print(line)
    return 1 if failed else 0


def _seeds(store, configs: list[PromptConfig], args) -> int:
    """A few-shot seed group; refused where the seed changes nothing (zero-shot label scoring)."""
    from ..sweeps import seed_matters
    from .finetune import run_seeds

    if len(configs) > 1:
        raise UserError("--seeds and several --template together: repeat one template over seeds")
    cfg = configs[0]
    if not seed_matters("prompt", cfg.to_dict()):
        raise UserError("--seeds with zero-shot label scoring: nothing is drawn or sampled, so every seed gives the "
                        "same predictions; use --mode few (the seed draws the examples)")
    return run_seeds(store, "prompt", cfg.to_dict(), args.seeds, args.queue)
