"""The paper's pipeline as one graph of steps: fine-tuning, task embeddings, the LLM side, the tables.

Each sweep is a function that adds its steps to the graph (`SWEEPS`, the one registry: a new stage of
the pipeline is a function and one entry there); `build` orders the steps so that each comes after what
it reads. Paths come from data_utils.artifacts.paths.ResultLayout; each step names what it writes, what
it reads (other steps' outputs, and the user's dataset folders and pool), whose state
data_utils.artifacts.completion tells; each step's command is what a user would type (`python run_*.py
...`). What the graph covers and how big its steps are is sweeps/options.py's SweepOptions: the paper's
sweeps (scripts/sweep.py, whose defaults are the paper's lists) and the demo (a preset, sweeps/demo.py)
build the same graph. The fine-tuning, embedding and LLM stages add their steps once per seed of the options
(`SweepOptions.runs`: each seed's folder, step names and --seed); the tables and plots once, reading every seed.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from configs.datasets import NUM_PROMPTS
from configs.hparams import PLOT_MIN_POINTS
from configs.methods import method_of
from configs.models import llm_label, model_slug
from data_utils.artifacts.completion import OVERWRITE, recorded
from data_utils.artifacts.paths import DATASET_FIELD, PROMPT_FIELD, ResultLayout
from sweeps.graph import Graph, Step
from sweeps.options import EVERY_TRANSFER, SeedRun, SweepOptions, flag

TEXTEMB = method_of("text", fute=False).id


def _step(graph: Graph, options: SweepOptions, name: str, stage: str, script_and_args: Sequence[str],
          outputs: Sequence[Path], inputs: Sequence[Path] = (), sources: Sequence[Path] = (),
          selectors: Sequence[str] = (), redo: Sequence[str] = OVERWRITE, gpu: bool = True,
          run: SeedRun | None = None) -> None:
    """Add a step (sweeps.graph.Step: what each argument is); a step of one seed's `run` is named after its seed
    and ends with its --seed (the tables, of every seed, have none)."""
    if run is not None:
        name, script_and_args = run.name(name), [*script_and_args, *run.flags]
    graph.add(Step(name, stage, (options.python, *script_and_args), tuple(outputs), tuple(inputs), tuple(sources),
                   tuple(selectors), tuple(redo), gpu))


def transfer_pairs(o: SweepOptions) -> list[tuple[str, str]]:
    """(source, target) of every transfer run, by target: every other dataset of a class `o.transfers` takes."""
    lm_sets = [*o.cr, *o.qa]
    return [(s, t) for t in lm_sets for s in lm_sets
            if s != t and (o.task_class(s), o.task_class(t)) in o.transfers]


def missing_prompts(o: SweepOptions, layout: ResultLayout, model: str, dataset: str) -> list[int]:
    """The prompts of `dataset` that `model` has no inference for in `layout` (one seed's), finished or made by
    this sweep (the prompt-selection baselines and the prompt table need all 13)."""
    return [p for p in range(NUM_PROMPTS) if p not in o.prompts and not recorded(layout.inference(model, dataset, p))]


def finetune(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
    """Per seed: --lm on every CR/QA source, then on every source -> target pair (within and across the classes:
    the all-class columns rank every source of the pool)."""
    budgets = o.budgets
    for run in o.runs:
        layout = run.layout
        for d in (*o.cr, *o.qa):
            _step(graph, o, f"finetune_{d}", "finetune",
                  [o.train_script(d), "--to_train_dataset", o.dataset(d), *o.data(d), "--lm_model_name", o.lm,
                   *budgets.finetune(d in o.qa, transfer=False), "--model_save_path", str(layout.checkpoint(d)),
                   "--score_save_path", str(layout.score(d)), *o.extra],
                  [layout.score(d), layout.checkpoint(d)], sources=o.data_folders(d), run=run)
        for s, t in transfer_pairs(o):
            _step(graph, o, f"transfer_{s}__{t}", "transfer",
                  [o.train_script(t), "--to_train_dataset", o.dataset(t), *o.data(t), "--lm_model_name", o.lm,
                   *budgets.finetune(t in o.qa, transfer=True), "--load_path", str(layout.checkpoint(s)),
                   "--score_save_path", str(layout.score(t, s)), *o.extra],
                  [layout.score(t, s)], inputs=[layout.checkpoint(s)], sources=o.data_folders(t), run=run)


def task_emb(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
    """Per seed: baseline DTEs, TextEmb, FUTE DTEs (also of the LLM evaluation sets: the prompt table compares LLM
    MTEs with them) and the MTE of every fine-tuned model."""
    lm_sets = [*o.cr, *o.qa]

    def dte(run: SeedRun, family: str, fute: bool, d: str, surrogate: str, stage: str) -> None:
        method = method_of(family, fute).id
        path = run.layout.dte(method, d)
        schedule = [] if family == "text" else ["--is_baseline", str(not fute)]
        _step(graph, o, f"{method}_dte_{d}", stage,
              ["run_task_emb.py", "--task_type", o.task_class(d), "--input_type", "data", "--task_emb_type", family,
               *schedule, "--to_train_dataset", o.dataset(d), *o.data(d), "--task_emb_model_lm_name", surrogate,
               *o.budgets.dte(method, d in o.qa), "--save_path", str(path), *o.extra], [path],
              sources=o.data_folders(d), run=run)

    for run in o.runs:
        for family in o.emb_types:
            for d in lm_sets:
                dte(run, family, False, d, o.surrogate, "baseline_dte")
        for d in lm_sets:
            dte(run, "text", False, d, o.lm, "textemb")  # TaskEmb's TextEmb: the base LM's mean final hidden state
        for family in o.emb_types:
            for d in dict.fromkeys((*lm_sets, *o.llm_sets_in_use)):
                dte(run, family, True, d, o.surrogate, "fute_dte")
        for family in o.emb_types:
            method = method_of(family, True).id
            for d in lm_sets:
                path, checkpoint = run.layout.mte(method, d), run.layout.checkpoint(d)
                _step(graph, o, f"{method}_mte_{d}", "mte",
                      ["run_task_emb.py", "--task_type", o.task_class(d), "--input_type", "model", "--task_emb_type",
                       family, "--load_path", str(checkpoint), "--to_train_dataset", o.dataset(d), *o.pool_flags(),
                       "--lm_model_name", o.lm, "--task_emb_model_lm_name", o.surrogate,
                       *o.budgets.mte(family, d in o.qa), "--save_path", str(path), *o.extra],
                      [path], inputs=[checkpoint], sources=o.pool_files(), run=run)


def llm(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
    """Per seed: x' per genre; every LLM on every evaluation set with every prompt; y' of every (LLM, genre,
    prompt); the LLM + prompt MTEs; the prompt-selection baselines once all 13 prompts of a set exist."""
    budgets = o.budgets
    # One command per LLM for every (set, prompt), one per (LLM, genre) for every prompt's y': the model
    # loads once per command; each file is written and resumed as a run of its own. Under --data_dir, the
    # declared sets (which name their own data) get a command of their own.
    prompts = ",".join(map(str, o.prompts))
    verbalizers = flag("--verbalizer_tokens", o.verbalizer_tokens)
    backend = [] if o.backend == "transformers" else ["--backend", o.backend]
    local = [d for d in o.llm_sets if o.data_dir is not None and d not in o.declared]
    groups = [(local, ["--dataset_path", str(o.data_dir / DATASET_FIELD)] if local else []),
              ([d for d in o.llm_sets if d not in local], [])]
    for run in o.runs:
        layout = run.layout
        for g in o.genres:
            _step(graph, o, f"x_{g}", "x",
                  ["run_task_emb.py", "--task_type", g, "--input_type", "model", "--task_emb_type", "prefix",
                   "--generate_model_data_only", "True", "--max_data_for_task_emb_train",
                   str(budgets.llm_x_per_source), *o.pool_flags(), "--task_emb_model_lm_name", o.surrogate,
                   "--save_path", str(layout.llm_inputs(g)), *o.te_extra], [layout.llm_inputs(g)],
                  sources=o.pool_files(), gpu=False, run=run)
        for model in o.llms:
            for index, (sets, data) in enumerate(group for group in groups if group[0]):
                outputs = [layout.inference(model, d, p) for d in sets for p in o.prompts]
                _step(graph, o, f"inference_{model_slug(model)}" + ("_declared" if index else ""), "llm_inference",
                      ["run_llm_inference.py", "--model", model, "--bit", str(o.bit), *backend, "--dataset_name",
                       ",".join(map(o.dataset, sets)), *data, "--prompt_number", prompts, *budgets.inference(),
                       *verbalizers, "--save_path", str(layout.inference(model, DATASET_FIELD, PROMPT_FIELD)),
                       *o.extra], outputs, sources=o.data_folders(*sets),
                      selectors=("--dataset_name", "--prompt_number"), run=run)
        for model in o.llms:
            for g in o.genres:
                x = layout.llm_inputs(g)
                outputs = [layout.llm_answers(model, g, p) for p in o.prompts]
                _step(graph, o, f"answers_{model_slug(model)}_{g}", "llm_answers",
                      ["run_llm_inference_for_te.py", "--model", model, "--bit", str(o.bit), *backend, "--task_genre", g,
                       "--prompt_number", prompts, "--data_load_path", str(x),
                       *flag("--cot_max_new_tokens", budgets.cot_max_new_tokens), *verbalizers, "--save_path",
                       str(layout.llm_answers(model, g, PROMPT_FIELD)), *o.extra],
                      outputs, inputs=[x], selectors=("--prompt_number",), run=run)
        for family in o.llm_families:
            method = method_of(family, True).id
            for model in o.llms:
                for g in o.genres:
                    for p in o.prompts:
                        path, y = layout.llm_mte(method, model, g, p), layout.llm_answers(model, g, p)
                        _step(graph, o, f"{method}_mte_{model_slug(model)}_{g}_p{p}", "llm_mte",
                              ["run_task_emb.py", "--task_type", g, "--input_type", "model", "--llm_mode", "True",
                               "--task_emb_type", family, "--load_path", str(y), "--lm_model_name", model,
                               "--task_emb_model_lm_name", o.surrogate, *budgets.llm_mte(family), "--save_path",
                               str(path), *o.te_extra], [path], inputs=[y], run=run)
        for model in o.llms:
            for d in o.llm_sets:
                missing = missing_prompts(o, layout, model, d)
                if missing:
                    notes.append(f"{layout.selection(model, d).relative_to(o.out).with_suffix('')} waits for "
                                 f"prompts {','.join(map(str, missing))} (add them to --prompts)")
                    continue
                paths = [layout.inference(model, d, p) for p in range(NUM_PROMPTS)]
                path = layout.selection(model, d)
                _step(graph, o, f"selection_{model_slug(model)}_{d}", "selection",
                      ["run_prompt_selection_baselines.py", "--paths", ",".join(map(str, paths)),
                       *flag("--self_select_model", o.self_select_model), "--save_path", str(path)],
                      [path], inputs=paths, redo=(), gpu=False, run=run)


def evaluation(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
    """The transferability table, the prompt table (with LLMs), the unified-space table (every FUTE method's MTEs
    among its DTEs) and the plots of each FUTE method's MTEs: each reads every seed's folders (comma-separated,
    in --seeds order) and waits for every seed's inputs."""
    lm_sets, layouts, tables = [*o.cr, *o.qa], [run.layout for run in o.runs], o.eval_layout
    fute_methods = [method_of(family, True).id for family in o.emb_types]
    llm_methods = [method_of(family, True).id for family in o.llm_families]

    def folders(folder: Callable[[ResultLayout], Path]) -> str:
        return ",".join(str(folder(layout)) for layout in layouts)

    scores = [layout.score(d) for layout in layouts for d in lm_sets]
    scores += [layout.score(t, s) for layout in layouts for s, t in transfer_pairs(o)]
    lm_embeddings = [layout.dte(method_of(f, fute).id, d) for layout in layouts for f in o.emb_types
                     for fute in (False, True) for d in lm_sets]
    lm_embeddings += [layout.dte(TEXTEMB, d) for layout in layouts for d in lm_sets]
    lm_embeddings += [layout.mte(m, d) for layout in layouts for m in fute_methods for d in lm_sets]
    table = tables.table("transfer")
    # Fewer transfers than every pair (the demo's: no CR -> QA): each target is ranked over the sources it has.
    partial = [] if set(o.transfers) >= set(EVERY_TRANSFER) else ["--allow_missing_pairs", "True"]
    _step(graph, o, "table_transfer", "tables",
          ["run_eval.py", "transfer", "--emb_dir", folders(ResultLayout.embeddings), "--score_dir",
           folders(ResultLayout.finetune_dir), "--tasks", ",".join(lm_sets), *partial, "--save_path", str(table),
           *o.extra], [table.with_suffix(".json")], inputs=[*scores, *lm_embeddings], redo=(), gpu=False)
    llm_mtes = [layout.llm_mte(m, model, o.spec(d).llm_genre, p) for layout in layouts for m in llm_methods
                for model in o.llms for d in o.llm_sets for p in o.prompts]
    waiting = list(dict.fromkeys(f"{model_slug(model)}_{d}" for layout in layouts for model in o.llms
                                 for d in o.llm_sets if missing_prompts(o, layout, model, d)))
    if o.llms and not waiting:
        table = tables.table("prompt")
        inputs = [layout.selection(model, d) for layout in layouts for model in o.llms for d in o.llm_sets]
        inputs += [layout.dte(m, d) for layout in layouts for m in llm_methods for d in o.llm_sets] + llm_mtes
        _step(graph, o, "table_prompt", "tables",
              ["run_eval.py", "prompt", "--inference_dir", folders(ResultLayout.inference_dir), "--baseline_scores",
               folders(ResultLayout.selection_dir), "--emb_dir", folders(ResultLayout.embeddings), "--save_path",
               str(table), *o.extra], [table.with_suffix(".json")], inputs=inputs, redo=(), gpu=False)
    elif o.llms:
        notes.append(f"no prompt table: {', '.join(waiting)} lack prompts of the 13 (add them to --prompts)")
    else:
        notes.append("no --llms: no prompt table and no LLM plots")
    # The unified space (FUTE's central claim): where every MTE lands among its method's DTEs.
    # The table ranks exactly the embeddings this sweep declares (--dtes, --mtes): under SLURM it runs as soon
    # as they exist, and other runs' embeddings in the same folder must not change it. --mtes names the MTEs of
    # every method at once: where only some methods have LLM + prompt MTEs (the demo's), each takes its own.
    mtes = [layout.mte(m, d) for layout in layouts for m in fute_methods for d in lm_sets] + llm_mtes
    llm_labels = [llm_label(model, p) for model in o.llms for p in o.prompts]
    if mtes:
        table = tables.table("space")
        dte_sets = list(dict.fromkeys((*lm_sets, *o.llm_sets_in_use)))
        dtes = [layout.dte(m, d) for layout in layouts for m in fute_methods for d in dte_sets]
        named = ["--mtes", ",".join([*lm_sets, *llm_labels])] if llm_methods == fute_methods or not o.llms else []
        _step(graph, o, "table_space", "tables",
              ["run_eval.py", "space", "--emb_dir", folders(ResultLayout.embeddings), "--methods",
               ",".join(fute_methods), "--dtes", ",".join(dte_sets), *named, "--save_path", str(table)],
              [table.with_suffix(".json")], inputs=list(dict.fromkeys([*dtes, *mtes])), redo=(), gpu=False)
    else:
        notes.append("no CR/QA datasets and no --llms: no model task embeddings, so no unified-space table")
    for method in fute_methods:
        for kind, labels, kinds in (("lm", lm_sets, o.lm_plot_kinds), ("llm", llm_labels, ("MTE",))):
            if kind == "llm" and (not o.llms or method not in llm_methods):
                continue
            if len(labels) * len(kinds) < PLOT_MIN_POINTS:
                what = "tasks" if kind == "lm" else "(LLM, prompt) pairs"
                notes.append(f"no {method} {kind.upper()} plot: a plot needs at least "
                             f"{-(-PLOT_MIN_POINTS // len(kinds))} {what}")
                continue
            stem = tables.plot(f"{method}_{kind}")
            _step(graph, o, f"plot_{method}_{kind}", "plots",
                  ["run_eval.py", "plot", "--emb_dir", folders(ResultLayout.embeddings), "--method", method,
                   "--kinds", ",".join(kinds), "--tasks", ",".join(labels), "--save_path", str(stem)],
                  [stem.with_name(stem.name + ".record.json")],
                  inputs=lm_embeddings if kind == "lm" else llm_mtes, redo=(), gpu=False)


# The pipeline's sweeps, in the order `all` builds them: name -> the function that adds its steps to the graph
# (from the options, noting what it leaves out). A new stage is a function and one entry here; its steps'
# inputs place them after the steps that write them, wherever the entry stands.
SWEEPS: dict[str, Callable[[Graph, SweepOptions, list[str]], None]] = {
    "finetune": finetune, "task_emb": task_emb, "llm": llm, "eval": evaluation}


def build(name: str, options: SweepOptions, notes: list[str]) -> Graph:
    """The steps of sweep `name` (one of SWEEPS, or "all": every one, as one graph, so that every step waits
    exactly for the steps it reads across sweeps), each after what it reads; things left out go into `notes`."""
    graph = Graph()
    for part in (SWEEPS if name == "all" else (name,)):
        SWEEPS[part](graph, options, notes)
    return graph.ordered()
