"""The paper's four sweeps as steps: fine-tuning, task embeddings, the LLM side, the tables.

Paths come from data_utils.artifacts.paths.ResultLayout; each step names what it writes, what it
reads (other steps' outputs, and the user's dataset folders and pool), whose state
data_utils.artifacts.completion tells (as the demo's); each step's command is what a user would type
(`python run_*.py ...`). The paper's lists are the defaults of scripts/sweep.py.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from configs.datasets import NUM_PROMPTS, DatasetSpec
from data_utils.declarations import DATASETS, declared_files
from configs.hparams import UNSUP_POOL
from configs.methods import method_of
from configs.models import model_slug
from data_utils.artifacts.paths import DATASET_FIELD, PROMPT_FIELD, ResultLayout
from data_utils.artifacts.completion import OVERWRITE, recorded
from sweeps.graph import Graph, Step

SWEEPS = ("finetune", "task_emb", "llm", "eval")
# "all": the four in one graph, so every step waits exactly for the steps it reads across sweeps
# (an MTE for its model's fine-tune, a table for everything); each part gets the flags as alone.
CHOICES = (*SWEEPS, "all")
# A plot needs at least this many embeddings (task_emb.plots.MIN_POINTS).
MIN_PLOTTED = 3


@dataclass
class SweepOptions:
    """What a sweep covers; paths are absolute. Datasets are named as outputs name them: a registry name, or
    the name a declaration file gives (`declared`: name -> its DatasetSpec, whose file the steps are given).
    extra: flags appended to the sweep's steps (the LLM sweep: to its LLM steps, te_extra to its
    run_task_emb.py steps; the eval sweep: to its transfer and prompt tables, whose flags the space table and
    the plots do not take)."""

    out: Path
    python: str
    lm: str = "bert-base-uncased"
    surrogate: str = "t5-base"
    llms: list[str] = field(default_factory=list)
    bit: int = 8
    cr: list[str] = field(default_factory=list)
    qa: list[str] = field(default_factory=list)
    llm_sets: list[str] = field(default_factory=list)
    prompts: list[int] = field(default_factory=lambda: list(range(NUM_PROMPTS)))
    emb_types: list[str] = field(default_factory=lambda: ["prefix", "fim"])
    data_dir: Path | None = None
    pool: Path | None = None
    extra: list[str] = field(default_factory=list)
    te_extra: list[str] = field(default_factory=list)
    declared: dict[str, DatasetSpec] = field(default_factory=dict)

    @property
    def layout(self) -> ResultLayout:
        return ResultLayout(self.out)

    @property
    def llm_sets_in_use(self) -> list[str]:
        """The LLM evaluation sets, when there are LLMs to evaluate on them (else nothing needs them)."""
        return self.llm_sets if self.llms else []

    @property
    def genres(self) -> list[str]:
        """The genres of the LLM evaluation sets in use, in first-seen order."""
        return list(dict.fromkeys(self.spec(d).llm_genre for d in self.llm_sets_in_use))

    def spec(self, dataset: str) -> DatasetSpec:
        return self.declared.get(dataset) or DATASETS[dataset]

    def dataset(self, dataset: str) -> str:
        """How a step is given the dataset: its registry name, or its declaration file."""
        return self.declared[dataset].declaration.path if dataset in self.declared else dataset

    def data(self, dataset: str) -> list[str]:
        """--dataset_path of a registry dataset under --data_dir (a declared one names its own data)."""
        if self.data_dir is None or dataset in self.declared:
            return []
        return ["--dataset_path", str(self.data_dir / dataset)]

    def data_folders(self, *datasets: str) -> list[Path]:
        """What a step reads of `datasets` (its sources): a declared dataset's declaration and the files it names,
        a registry dataset's --data_dir folder (nothing for the hub)."""
        sources = []
        for dataset in datasets:
            if dataset in self.declared:
                sources += declared_files(self.declared[dataset])
            elif self.data_dir is not None:
                sources.append(self.data_dir / dataset)
        return sources

    def pool_files(self) -> list[Path]:
        return [] if self.pool is None else [self.pool]

    def pool_flags(self) -> list[str]:
        return [] if self.pool is None else ["--unsup_data_path", str(self.pool)]

    def task_class(self, dataset: str) -> str:
        return "qa" if dataset in self.qa else "cr"

    def train_script(self, dataset: str) -> str:
        return "run_qa_train.py" if dataset in self.qa else "run_cr_train.py"


def build(name: str, options: SweepOptions, notes: list[str]) -> Graph:
    """The steps of sweep `name` (finetune, task_emb, llm, eval, or all four); things left out go into `notes`."""
    graph = Graph()
    parts = {"finetune": finetune, "task_emb": task_emb, "llm": llm, "eval": evaluation}
    for part in (SWEEPS if name == "all" else (name,)):
        parts[part](graph, options, notes)
    return graph


def _step(graph: Graph, options: SweepOptions, name: str, stage: str, script_and_args: Sequence[str],
          outputs: Sequence[Path], inputs: Sequence[Path] = (), sources: Sequence[Path] = (),
          selectors: Sequence[str] = (), redo: Sequence[str] = OVERWRITE, gpu: bool = True) -> None:
    """Add a step (sweeps.graph.Step: what each argument is)."""
    graph.add(Step(name, stage, (options.python, *script_and_args), tuple(outputs), tuple(inputs), tuple(sources),
                   tuple(selectors), tuple(redo), gpu))


def finetune(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
    """--lm on every CR/QA source, then on every source -> target pair (within and across the classes:
    the all-class columns rank every source of the pool)."""
    layout = o.layout
    for d in (*o.cr, *o.qa):
        _step(graph, o, f"finetune_{d}", "finetune",
              [o.train_script(d), "--to_train_dataset", o.dataset(d), *o.data(d), "--lm_model_name", o.lm,
               "--model_save_path",
               str(layout.checkpoint(d)), "--score_save_path", str(layout.score(d)), *o.extra],
              [layout.score(d), layout.checkpoint(d)], sources=o.data_folders(d))
    for t in (*o.cr, *o.qa):
        for s in (*o.cr, *o.qa):
            if s == t:
                continue
            _step(graph, o, f"transfer_{s}__{t}", "transfer",
                  [o.train_script(t), "--to_train_dataset", o.dataset(t), *o.data(t), "--lm_model_name", o.lm,
                   "--load_path",
                   str(layout.checkpoint(s)), "--score_save_path", str(layout.score(t, s)), *o.extra],
                  [layout.score(t, s)], inputs=[layout.checkpoint(s)], sources=o.data_folders(t))


def task_emb(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
    """Baseline DTEs, TextEmb, FUTE DTEs (also of the LLM evaluation sets: the prompt table compares LLM MTEs
    with them) and the MTE of every fine-tuned model."""
    layout, lm_sets = o.layout, [*o.cr, *o.qa]

    def dte(family: str, fute: bool, d: str, surrogate: str, stage: str) -> None:
        method = method_of(family, fute).id
        path = layout.dte(method, d)
        schedule = [] if family == "text" else ["--is_baseline", str(not fute)]
        _step(graph, o, f"{method}_dte_{d}", stage,
              ["run_task_emb.py", "--task_type", o.task_class(d), "--input_type", "data", "--task_emb_type", family,
               *schedule, "--to_train_dataset", o.dataset(d), *o.data(d), "--task_emb_model_lm_name", surrogate,
               "--save_path", str(path), *o.extra], [path], sources=o.data_folders(d))

    for family in o.emb_types:
        for d in lm_sets:
            dte(family, False, d, o.surrogate, "baseline_dte")
    for d in lm_sets:
        dte("text", False, d, o.lm, "textemb")  # TaskEmb's TextEmb: the base LM's mean final hidden state
    for family in o.emb_types:
        for d in dict.fromkeys((*lm_sets, *o.llm_sets_in_use)):
            dte(family, True, d, o.surrogate, "fute_dte")
    for family in o.emb_types:
        method = method_of(family, True).id
        for d in lm_sets:
            path = layout.mte(method, d)
            _step(graph, o, f"{method}_mte_{d}", "mte",
                  ["run_task_emb.py", "--task_type", o.task_class(d), "--input_type", "model", "--task_emb_type",
                   family, "--load_path", str(layout.checkpoint(d)), "--to_train_dataset", o.dataset(d),
                   *o.pool_flags(),
                   "--lm_model_name", o.lm, "--task_emb_model_lm_name", o.surrogate, "--save_path", str(path),
                   *o.extra], [path], inputs=[layout.checkpoint(d)], sources=o.pool_files())


def llm(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
    """x' per genre; every LLM on every evaluation set with every prompt; y' of every (LLM, genre, prompt);
    the LLM + prompt MTEs; the prompt-selection baselines once all 13 prompts of a set exist."""
    layout = o.layout
    for g in o.genres:
        _step(graph, o, f"x_{g}", "x",
              ["run_task_emb.py", "--task_type", g, "--input_type", "model", "--task_emb_type", "prefix",
               "--generate_model_data_only", "True", "--max_data_for_task_emb_train", str(UNSUP_POOL["llm_x_per_source"]),
               *o.pool_flags(), "--task_emb_model_lm_name", o.surrogate, "--save_path", str(layout.llm_inputs(g)),
               *o.te_extra], [layout.llm_inputs(g)], sources=o.pool_files(), gpu=False)
    # One command per LLM for every (set, prompt), one per (LLM, genre) for every prompt's y': the model
    # loads once per command; each file is written and resumed as a run of its own. Under --data_dir, the
    # declared sets (which name their own data) get a command of their own.
    prompts = ",".join(map(str, o.prompts))
    local = [d for d in o.llm_sets if o.data_dir is not None and d not in o.declared]
    groups = [(local, ["--dataset_path", str(o.data_dir / DATASET_FIELD)] if local else []),
              ([d for d in o.llm_sets if d not in local], [])]
    for model in o.llms:
        for index, (sets, data) in enumerate(group for group in groups if group[0]):
            outputs = [layout.inference(model, d, p) for d in sets for p in o.prompts]
            _step(graph, o, f"inference_{model_slug(model)}" + ("_declared" if index else ""), "llm_inference",
                  ["run_llm_inference.py", "--model", model, "--bit", str(o.bit), "--dataset_name",
                   ",".join(map(o.dataset, sets)), *data, "--prompt_number", prompts, "--save_path",
                   str(layout.inference(model, DATASET_FIELD, PROMPT_FIELD)), *o.extra],
                  outputs, sources=o.data_folders(*sets), selectors=("--dataset_name", "--prompt_number"))
    for model in o.llms:
        for g in o.genres:
            x = layout.llm_inputs(g)
            outputs = [layout.llm_answers(model, g, p) for p in o.prompts]
            _step(graph, o, f"answers_{model_slug(model)}_{g}", "llm_answers",
                  ["run_llm_inference_for_te.py", "--model", model, "--bit", str(o.bit), "--task_genre", g,
                   "--prompt_number", prompts, "--data_load_path", str(x), "--save_path",
                   str(layout.llm_answers(model, g, PROMPT_FIELD)), *o.extra],
                  outputs, inputs=[x], selectors=("--prompt_number",))
    for family in o.emb_types:
        method = method_of(family, True).id
        for model in o.llms:
            for g in o.genres:
                for p in o.prompts:
                    path, y = layout.llm_mte(method, model, g, p), layout.llm_answers(model, g, p)
                    _step(graph, o, f"{method}_mte_{model_slug(model)}_{g}_p{p}", "llm_mte",
                          ["run_task_emb.py", "--task_type", g, "--input_type", "model", "--llm_mode", "True",
                           "--task_emb_type", family, "--load_path", str(y), "--lm_model_name", model,
                           "--task_emb_model_lm_name", o.surrogate, "--save_path", str(path), *o.te_extra],
                          [path], inputs=[y])
    for model in o.llms:
        for d in o.llm_sets:
            paths = [layout.inference(model, d, p) for p in range(NUM_PROMPTS)]
            missing = [p for p, path in enumerate(paths) if not recorded(path) and p not in o.prompts]
            if missing:
                notes.append(f"selection/{model_slug(model)}_{d} waits for prompts {','.join(map(str, missing))} "
                             f"(add them to --prompts)")
                continue
            path = layout.selection(model, d)
            _step(graph, o, f"selection_{model_slug(model)}_{d}", "selection",
                  ["run_prompt_selection_baselines.py", "--paths", ",".join(map(str, paths)), "--save_path",
                   str(path)], [path], inputs=paths, redo=(), gpu=False)


def evaluation(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
    """The transferability table, the prompt table (with LLMs), the unified-space table (every FUTE method's MTEs
    among its DTEs) and the plots of each FUTE method's MTEs."""
    layout, lm_sets = o.layout, [*o.cr, *o.qa]
    fute_methods = [method_of(family, True).id for family in o.emb_types]
    scores = [layout.score(d) for d in lm_sets] + [layout.score(t, s) for t in lm_sets for s in lm_sets if s != t]
    lm_embeddings = [layout.dte(method_of(f, fute).id, d) for f in o.emb_types for fute in (False, True)
                     for d in lm_sets] + [layout.dte("textemb", d) for d in lm_sets]
    lm_embeddings += [layout.mte(m, d) for m in fute_methods for d in lm_sets]
    table = layout.table("transfer")
    _step(graph, o, "table_transfer", "tables",
          ["run_eval.py", "transfer", "--emb_dir", str(layout.embeddings()), "--score_dir", str(layout.finetune_dir()),
           "--tasks", ",".join(lm_sets), "--save_path", str(table), *o.extra],
          [table.with_suffix(".json")], inputs=[*scores, *lm_embeddings], redo=(), gpu=False)
    llm_mtes = [layout.llm_mte(m, model, o.spec(d).llm_genre, p) for m in fute_methods for model in o.llms
                for d in o.llm_sets for p in o.prompts]
    if o.llms:
        table = layout.table("prompt")
        inputs = [layout.selection(model, d) for model in o.llms for d in o.llm_sets]
        inputs += [layout.dte(m, d) for m in fute_methods for d in o.llm_sets] + llm_mtes
        _step(graph, o, "table_prompt", "tables",
              ["run_eval.py", "prompt", "--inference_dir", str(layout.inference_dir()), "--baseline_scores",
               str(layout.selection_dir()), "--emb_dir", str(layout.embeddings()), "--save_path", str(table),
               *o.extra], [table.with_suffix(".json")], inputs=inputs, redo=(), gpu=False)
    else:
        notes.append("no --llms: no prompt table and no LLM plots")
    # The unified space (FUTE's central claim): where every MTE lands among its method's DTEs.
    # The table ranks exactly the embeddings this sweep declares (--dtes, --mtes): under SLURM it runs as soon
    # as they exist, and other runs' embeddings in the same folder must not change it.
    mtes = [layout.mte(m, d) for m in fute_methods for d in lm_sets] + llm_mtes
    llm_labels = [f"{model_slug(model)}:p{p}" for model in o.llms for p in o.prompts]
    if mtes:
        table = layout.table("space")
        dte_sets = list(dict.fromkeys((*lm_sets, *o.llm_sets_in_use)))
        dtes = [layout.dte(m, d) for m in fute_methods for d in dte_sets]
        _step(graph, o, "table_space", "tables",
              ["run_eval.py", "space", "--emb_dir", str(layout.embeddings()), "--methods", ",".join(fute_methods),
               "--dtes", ",".join(dte_sets), "--mtes", ",".join([*lm_sets, *llm_labels]),
               "--save_path", str(table)], [table.with_suffix(".json")],
              inputs=list(dict.fromkeys([*dtes, *mtes])), redo=(), gpu=False)
    else:
        notes.append("no CR/QA datasets and no --llms: no model task embeddings, so no unified-space table")
    for method in fute_methods:
        for kind, labels in (("lm", lm_sets), ("llm", llm_labels)):
            if kind == "llm" and not o.llms:
                continue
            if len(labels) < MIN_PLOTTED:
                what = "tasks" if kind == "lm" else "(LLM, prompt) pairs"
                notes.append(f"no {method} {kind.upper()} plot: a plot needs at least {MIN_PLOTTED} {what}")
                continue
            stem = layout.plot(f"{method}_{kind}")
            _step(graph, o, f"plot_{method}_{kind}", "plots",
                  ["run_eval.py", "plot", "--emb_dir", str(layout.embeddings()), "--method", method, "--kinds", "MTE",
                   "--tasks", ",".join(labels), "--save_path", str(stem)],
                  [stem.with_name(stem.name + ".record.json")],
                  inputs=lm_embeddings if kind == "lm" else llm_mtes, redo=(), gpu=False)
