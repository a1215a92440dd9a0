"""What a sweep covers (`SweepOptions`) and how big its steps are (`Budgets`): the data the graph is built from.

The paper's sweeps (scripts/sweep.py) take the paper's defaults and the user's lists (`options_from`); the
demo (scripts/demo.py, sweeps/demo.py) is a preset of the same options: its data source, its tasks, and
budgets scaled to a CPU. Every difference between their commands is a field here.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from configs import paper_results
from configs.datasets import NUM_PROMPTS, DatasetSpec
from configs.hparams import DEFAULT_SEED, UNSUP_POOL
from configs.methods import METHODS
from data_utils.artifacts.paths import ResultLayout
from data_utils.declarations import (CR_DATASETS, DATASETS, LLM_DATASETS, QA_DATASETS, check_own_name,
                                     declared_files, get_spec, is_declaration)
from data_utils.errors import FuteError
from llm_inference.options import check_backend

ORIGINAL_CR = ("wnli,mrpc,cola,stsb,rte,boolq,sst2,scitail,qnli,snli,qqp,mnli,financial_phrasebank,medqa,"
               "medical_questions_pairs")
ORIGINAL_QA = "cq,comqa,wikihop,duorcp,duorcs,newsqa,drop,hotpotqa,squad,squad_v2"
# --grid: the transfer pool run when --cr_datasets/--qa_datasets are not given. default: the original code's sweep
# scripts' (the two lists above); paper: the paper's transferability table's, boolq as QA (configs/paper_results.py).
GRIDS: dict[str, dict[str, str]] = {"default": {"cr": ORIGINAL_CR, "qa": ORIGINAL_QA},
                                    "paper": {cls: ",".join(sets) for cls, sets in paper_results.POOL.items()}}
PAPER_LLM_SETS = ",".join(d for sets in paper_results.LLM_SETS.values() for d in sets)
PAPER_LLMS = ",".join(paper_results.LLMS)
# --emb_types: the families with a FUTE method (TextEmb, a baseline only, always runs); the paper's two first.
EMB_TYPES = tuple(dict.fromkeys(["prefix", "fim", *(m.family for m in METHODS if m.fute)]))
# (source class, target class) of the transfer runs: the paper's, every pair (the all-class columns rank every
# source of the pool).
EVERY_TRANSFER = (("cr", "cr"), ("cr", "qa"), ("qa", "cr"), ("qa", "qa"))


def flag(name: str, value: object) -> list[str]:
    """[name, value] as a command's words; nothing when value is None (the script's default applies)."""
    return [] if value is None else [name, str(value)]


@dataclass(frozen=True)
class Budgets:
    """How big each step is where a preset says so (the demo: the paper's budgets scaled to a CPU). None, the
    default, leaves a flag out of the step's command, so that the entry script's default (the paper's) applies.

    Fine-tuning: train_examples, epochs (transfer runs: transfer_examples, transfer_epochs), learning_rate,
    batch_size; dev_examples: dev examples scored by fine-tuning and DTEs; qa_max_len: every QA step's input
    length. Task embeddings: emb_examples (DTE training examples), dte_epochs and dte_learning_rate (method id
    -> epochs, rate), qa_dte_learning_rate (method id -> the rate of its QA DTEs, where it differs: the paper's
    rates differ by task class), emb_batch_size (DTEs and MTEs of fine-tuned models), emb_accumulation (every embedding's),
    pool_per_source (x' per pool source of an MTE of a fine-tuned model), mte_epochs, mte_learning_rate
    (family -> rate, of every MTE; a FIM is read off once and has none to scale). The LLM side:
    llm_x_per_source (x' per pool source; the paper's default is always given), llm_examples (evaluation
    examples per set), cot_max_new_tokens, llm_mte_batch_size, llm_mte_epochs.
    """

    train_examples: int | None = None
    epochs: int | None = None
    transfer_examples: int | None = None
    transfer_epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    dev_examples: int | None = None
    qa_max_len: int | None = None
    emb_examples: int | None = None
    dte_epochs: Mapping[str, int] = field(default_factory=dict)
    dte_learning_rate: Mapping[str, float] = field(default_factory=dict)
    qa_dte_learning_rate: Mapping[str, float] = field(default_factory=dict)
    emb_batch_size: int | None = None
    emb_accumulation: int | None = None
    pool_per_source: int | None = None
    mte_epochs: int | None = None
    mte_learning_rate: Mapping[str, float] = field(default_factory=dict)
    llm_x_per_source: int = UNSUP_POOL["llm_x_per_source"]
    llm_examples: int | None = None
    cot_max_new_tokens: int | None = None
    llm_mte_batch_size: int | None = None
    llm_mte_epochs: int | None = None

    def finetune(self, qa: bool, transfer: bool) -> list[str]:
        """The flags of a fine-tuning run (`transfer`: of a source's checkpoint on a target)."""
        examples, epochs = (self.transfer_examples, self.transfer_epochs) if transfer else (self.train_examples,
                                                                                             self.epochs)
        return [*flag("--learning_rate", self.learning_rate), *flag("--batch_size", self.batch_size),
                *flag("--max_dev_examples", self.dev_examples), *self.length(qa),
                *flag("--max_train_examples", examples), *flag("--max_epochs", epochs)]

    def dte(self, method: str, qa: bool) -> list[str]:
        rate = self.qa_dte_learning_rate.get(method) if qa else None
        return [*flag("--max_train_examples", self.emb_examples), *flag("--max_dev_examples", self.dev_examples),
                *self._batches(), *self.length(qa), *flag("--max_epochs", self.dte_epochs.get(method)),
                *flag("--learning_rate", self.dte_learning_rate.get(method) if rate is None else rate)]

    def mte(self, family: str, qa: bool) -> list[str]:
        """An MTE of a fine-tuned model."""
        return [*self._batches(), *flag("--max_data_for_task_emb_train", self.pool_per_source),
                *flag("--max_epochs", self.mte_epochs), *flag("--learning_rate", self.mte_learning_rate.get(family)),
                *self.length(qa)]

    def llm_mte(self, family: str) -> list[str]:
        return [*flag("--batch_size", self.llm_mte_batch_size), *flag("--gradient_accumulation_steps",
                                                                      self.emb_accumulation),
                *flag("--max_epochs", self.llm_mte_epochs),
                *flag("--learning_rate", self.mte_learning_rate.get(family))]

    def inference(self) -> list[str]:
        return [*flag("--max_examples", self.llm_examples), *flag("--cot_max_new_tokens", self.cot_max_new_tokens)]

    def length(self, qa: bool) -> list[str]:
        return flag("--max_len", self.qa_max_len) if qa else []

    def _batches(self) -> list[str]:
        return [*flag("--batch_size", self.emb_batch_size), *flag("--gradient_accumulation_steps",
                                                                   self.emb_accumulation)]


@dataclass(frozen=True)
class SeedRun:
    """One seed of a sweep: where its steps write (`layout`, under <out>/seed<seed>/), how they are named, and the
    flags that give them the seed."""

    seed: int
    layout: ResultLayout

    def name(self, step: str) -> str:
        """A step's name: `step` for the default seed, `<step>_s<seed>` for another (unique among the seeds, and
        adding a seed to a sweep renames none of its steps: their logs and SLURM records keep their names)."""
        return step if self.seed == DEFAULT_SEED else f"{step}_s{self.seed}"

    @property
    def flags(self) -> list[str]:
        return ["--seed", str(self.seed)]


@dataclass
class SweepOptions:
    """What a sweep covers; paths are absolute. Datasets are named as outputs name them: a registry name, or
    the name a declaration file gives (`declared`: name -> its DatasetSpec, whose file the steps are given).
    seeds: each seed's fine-tunes, embeddings, x', LLM runs and baselines are steps of their own, given --seed
    (`runs`); the tables read every seed. extra: flags appended to the sweep's steps (the LLM sweep: to its
    LLM steps, te_extra to its run_task_emb.py steps; the eval sweep: to its transfer and prompt tables, whose
    flags the space table and the plots do not take).

    A preset's choices (the paper's by default): budgets; llm_emb_types, the families of the LLM + prompt MTEs
    (None: emb_types); transfers, the (source, target) classes transferred (fewer than EVERY_TRANSFER: each
    target is ranked over the sources it has); lm_plot_kinds, what the plots of the fine-tuned models show;
    verbalizer_tokens and self_select_model, flags of the LLM steps and of the prompt-selection baselines."""

    out: Path
    python: str
    lm: str = "bert-base-uncased"
    surrogate: str = "t5-base"
    llms: list[str] = field(default_factory=list)
    bit: int = 8
    backend: str = "transformers"
    cr: list[str] = field(default_factory=list)
    qa: list[str] = field(default_factory=list)
    llm_sets: list[str] = field(default_factory=list)
    prompts: list[int] = field(default_factory=lambda: list(range(NUM_PROMPTS)))
    emb_types: list[str] = field(default_factory=lambda: ["prefix", "fim"])
    seeds: list[int] = field(default_factory=lambda: [DEFAULT_SEED])
    data_dir: Path | None = None
    pool: Path | None = None
    extra: list[str] = field(default_factory=list)
    te_extra: list[str] = field(default_factory=list)
    declared: dict[str, DatasetSpec] = field(default_factory=dict)
    budgets: Budgets = field(default_factory=Budgets)
    llm_emb_types: list[str] | None = None
    transfers: tuple[tuple[str, str], ...] = EVERY_TRANSFER
    lm_plot_kinds: tuple[str, ...] = ("MTE",)
    verbalizer_tokens: str | None = None
    self_select_model: str | None = None

    @property
    def runs(self) -> list[SeedRun]:
        """Each seed's part of the sweep, in --seeds order."""
        return [SeedRun(seed, ResultLayout(self.out).for_seed(seed)) for seed in self.seeds]

    @property
    def eval_layout(self) -> ResultLayout:
        """Where the tables and plots go (they read every seed: ResultLayout.table and .plot are the same for
        every seed)."""
        return ResultLayout(self.out)

    @property
    def llm_sets_in_use(self) -> list[str]:
        """The LLM evaluation sets, when there are LLMs to evaluate on them (else nothing needs them)."""
        return self.llm_sets if self.llms else []

    @property
    def genres(self) -> list[str]:
        """The genres of the LLM evaluation sets in use, in first-seen order."""
        return list(dict.fromkeys(self.spec(d).llm_genre for d in self.llm_sets_in_use))

    @property
    def llm_families(self) -> list[str]:
        return self.emb_types if self.llm_emb_types is None else self.llm_emb_types

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


class SweepError(Exception):
    """A bad option: one line on stderr, status 2, nothing run."""


def names(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def transfer_pool(grid: str, cr: str | None, qa: str | None) -> tuple[str, str]:
    """The CR and QA lists of a sweep: those given, else the grid's (GRIDS). The paper grid is a fixed pool, the
    one its reference rows were measured on: a list given beside it is refused."""
    given = [flag for flag, value in (("--cr_datasets", cr), ("--qa_datasets", qa)) if value is not None]
    if grid != "default" and given:
        raise SweepError(f"--grid {grid} runs the paper's pool (11 CR and 11 QA sets), which {' and '.join(given)} "
                         f"would change; drop {' and '.join(given)}, or leave out --grid to run your own lists")
    return GRIDS[grid]["cr"] if cr is None else cr, GRIDS[grid]["qa"] if qa is None else qa


def options_from(args: argparse.Namespace, here: Path) -> SweepOptions:
    """The sweep's options from scripts/sweep.py's flags, checked against configs/ (SweepError naming the option);
    relative paths are made absolute against `here`, the folder the sweep starts from (steps run from the
    repository)."""
    def absolute(path: str) -> Path:
        return (here / path).resolve() if not Path(path).is_absolute() else Path(path)

    def model(name: str) -> str:  # a model folder or file relative to `here`; else a hub id or alias
        return str(absolute(name)) if not Path(name).is_absolute() and (here / name).exists() else name

    declared: dict[str, DatasetSpec] = {}

    def datasets(flag: str, listed: str, known: dict[str, DatasetSpec]) -> list[str]:
        """The names of the datasets listed: registry names, or declaration files (read here, from `here`)."""
        chosen = []
        for value in names(listed):
            if not is_declaration(value):
                if value not in known:
                    raise SweepError(f"{flag}: unknown dataset {value!r}; known: {','.join(known)}, or a declaration "
                                     f"file (.yaml, .yml, .json) of one's own")
                chosen.append(value)
                continue
            try:
                spec = get_spec(str(absolute(value)))
                check_own_name(spec, "a sweep")
            except FuteError as err:
                raise SweepError(f"{flag}: {err}") from None
            if declared.get(spec.name, spec) != spec:
                raise SweepError(f"{flag}: {value} declares {spec.name}, as another declaration does; a sweep names "
                                 f"its outputs by dataset: give each a name of its own")
            fits = {"--cr_datasets": spec.task_class == "cr", "--qa_datasets": spec.task_class == "qa",
                    "--llm_datasets": spec.llm_genre is not None}[flag]
            if not fits:
                what = f"a {spec.task_class} dataset" + ("" if spec.llm_genre else " with no llm entry")
                raise SweepError(f"{flag}: {value} declares {what}: cr datasets go in --cr_datasets, qa ones in "
                                 f"--qa_datasets, ones with an llm entry in --llm_datasets")
            declared[spec.name] = spec
            chosen.append(spec.name)
        return once(flag, chosen)

    def once(flag: str, values: list[str]) -> list[str]:
        """`values`, refused where one repeats (its steps would be made twice, under one name)."""
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise SweepError(f"{flag}: {', '.join(repeated)} listed more than once (a file and its copy declare one "
                             f"name too); list each once")
        return values

    cr_listed, qa_listed = transfer_pool(args.grid, args.cr_datasets, args.qa_datasets)
    cr = datasets("--cr_datasets", cr_listed, CR_DATASETS)
    qa = datasets("--qa_datasets", qa_listed, QA_DATASETS)
    llm_sets = datasets("--llm_datasets", args.llm_datasets, LLM_DATASETS)
    prompts = once("--prompts", names(args.prompts)) if args.prompts is not None else [
        str(p) for p in range(NUM_PROMPTS)]
    for prompt in prompts:
        if not (prompt.isdigit() and int(prompt) < NUM_PROMPTS):
            raise SweepError(f"--prompts: {prompt!r} is not a prompt number 0-{NUM_PROMPTS - 1}")
    for family in once("--emb_types", names(args.emb_types)):
        if family not in EMB_TYPES:
            raise SweepError(f"--emb_types: unknown method {family}; use {', '.join(EMB_TYPES)}")
    data_dir = absolute(args.data_dir) if args.data_dir else None
    if data_dir is not None and not data_dir.is_dir():
        raise SweepError(f"--data_dir: no folder {data_dir}")
    pool = absolute(args.pool) if args.pool else None
    if pool is not None and not pool.is_file():
        raise SweepError(f"--pool: no file {pool}")
    if args.jobs < 1:
        raise SweepError(f"--jobs must be at least 1, got {args.jobs}")
    llms = once("--llms", [model(name) for name in names(args.llms)])
    if args.backend != "transformers":
        for name in llms:  # a flag the LLM steps would refuse is refused before any step runs
            try:
                check_backend(name, args.bit, args.backend)
            except FuteError as err:
                raise SweepError(f"--llms {name}: {err}") from None
    extra, te_extra = shlex.split(args.extra), shlex.split(args.te_extra)
    for flag_name, words in (("--extra", extra), ("--te_extra", te_extra)):
        if any(word == "--seed" or word.startswith("--seed=") for word in words):
            raise SweepError(f"{flag_name}: --seed is the sweep's own (each seed's steps go to <out>/seed<n>/); give "
                             f"the seeds with --seeds")
    return SweepOptions(
        out=absolute(args.out), python=os.environ.get("PYTHON", sys.executable), lm=model(args.lm),
        surrogate=model(args.surrogate), llms=llms,
        bit=args.bit, backend=args.backend, cr=cr, qa=qa, llm_sets=llm_sets, prompts=[int(p) for p in prompts],
        emb_types=names(args.emb_types), seeds=seeds_of(args.seeds), data_dir=data_dir, pool=pool, extra=extra,
        te_extra=te_extra, declared=declared)


def seeds_of(value: str) -> list[int]:
    """--seeds: comma-separated whole numbers >= 0, each once, in the order given (SweepError otherwise)."""
    seeds = names(value)
    wrong = [seed for seed in seeds if not seed.isdigit()]
    if not seeds or wrong:
        raise SweepError(f"--seeds: {', '.join(wrong) or 'nothing'} is not a list of seeds; give whole numbers >= 0, "
                         f"comma-separated, e.g. 1,2,3")
    numbers = [int(seed) for seed in seeds]
    repeated = sorted({seed for seed in numbers if numbers.count(seed) > 1})
    if repeated:
        raise SweepError(f"--seeds: {', '.join(map(str, repeated))} listed more than once; list each seed once")
    return numbers
