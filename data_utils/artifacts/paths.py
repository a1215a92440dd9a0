"""Where every artifact's files are: the files beside any output, and where a sweep or the demo puts each
artifact under one result folder. Every module that names a record, a partial log or a layout path imports
it from here.

Beside an output (`record_path`, `partial_log_path`, `CHECKPOINT_RECORD`):

    <name>.<ext>  ->  <name>.record.json                 its record, written last (data_utils/artifacts/completion.py)
    <ckpt>/       ->  <ckpt>/fute_record.json            a fine-tuned checkpoint holds its record inside
    <name>.json   ->  <name>.json.partial.jsonl          an LLM inference run's finished examples, while it runs

Under one result folder (`ResultLayout`), each seed's artifacts in a folder of their own, seed<n>/ (the steps
run with --seed n; a sweep or the demo without --seeds has one, 42: seed42/), and the tables and plots, which
read every seed, beside them:

    seed<n>/finetune/<d>_ckpt/, seed<n>/finetune/<d>_score.json         the LM fine-tuned on d
    seed<n>/finetune/transfer/<s>__<t>_ckpt/, .../<s>__<t>_score.json   the LM fine-tuned on s, then on t
    seed<n>/emb/<method>/<d>_dte.npy                                    dataset task embedding (DTE) of d
    seed<n>/emb/<method>/<d>_mte.npy                                    MTE of the LM fine-tuned on d
    seed<n>/emb/<method>/<llm>_<g>_p<k>_mte.npy                         MTE of the LLM under prompt k, genre g
    seed<n>/llm/<llm>/<d>_p<k>.json                                     LLM inference on d with prompt k
    seed<n>/llm_te/<g>_x.jsonl, seed<n>/llm_te/<llm>_<g>_p<k>.jsonl     x' of genre g; the LLM's answers y'
    seed<n>/selection/<llm>_<d>.json                                    prompt-selection baseline scores
    eval/<table>.{md,csv,json}, eval/plots/                             tables and plots (every seed)

<method> is an id of configs/methods.py; <llm> is configs.models.model_slug of the LLM's name. The folder
only places a seed's files: each record names its seed (its config's "seed", the step's --seed).
Every output X.ext gets X.record.json beside it (a checkpoint: fute_record.json inside). The
names only place files: what a file is, readers learn from its record.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from configs.hparams import DEFAULT_SEED
from configs.models import model_slug

RECORD_SUFFIX = ".record.json"
CHECKPOINT_RECORD = "fute_record.json"
PARTIAL_SUFFIX = ".partial.jsonl"

# The placeholders an LLM script's --save_path (and --dataset_path) may hold when it runs several
# datasets or prompts in one command: each run's file gets its own name.
DATASET_FIELD, PROMPT_FIELD = "{dataset}", "{prompt}"


def record_path(path: str | Path) -> Path:
    """`<name>.record.json` beside `<name>.<ext>` (beside `<name>` for a name without an extension)."""
    path = Path(path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(stem + RECORD_SUFFIX)


def output_of_record(record: str | Path, suffix: str) -> Path:
    """The output `<name><suffix>` whose record is `record` (`<name>.record.json`): `record_path` reversed."""
    record = Path(record)
    return record.with_name(record.name[: -len(RECORD_SUFFIX)] + suffix)


def partial_log_path(output: str | Path) -> Path:
    """The log of finished examples that an LLM inference run appends to until it writes `output`."""
    return Path(f"{output}{PARTIAL_SUFFIX}")


@dataclass(frozen=True)
class ResultLayout:
    """The artifact paths under one result folder `root`: those of `seed`'s runs (in `seed_dir`), and the tables
    and plots, which read every seed (the same for every seed). `ResultLayout(root).for_seed(n)`: seed n's."""

    root: Path
    seed: int = DEFAULT_SEED

    def for_seed(self, seed: int) -> ResultLayout:
        return replace(self, seed=seed)

    @property
    def seed_dir(self) -> Path:
        """The folder of every artifact of this seed's runs."""
        return self.root / f"seed{self.seed}"

    def checkpoint(self, dataset: str, source: str | None = None) -> Path:
        """The fine-tuned LM (a folder): on `dataset`, or on `source` then `dataset`."""
        return self._finetune(dataset, source, "_ckpt")

    def score(self, dataset: str, source: str | None = None) -> Path:
        """Its dev scores (JSON)."""
        return self._finetune(dataset, source, "_score.json")

    def finetune_dir(self) -> Path:
        """Every fine-tuning run (the transfer table's --score_dir)."""
        return self.seed_dir / "finetune"

    def _finetune(self, dataset: str, source: str | None, suffix: str) -> Path:
        if source is None:
            return self.finetune_dir() / f"{dataset}{suffix}"
        return self.finetune_dir() / "transfer" / f"{source}__{dataset}{suffix}"

    def embeddings(self) -> Path:
        return self.seed_dir / "emb"

    def dte(self, method: str, dataset: str) -> Path:
        return self.embeddings() / method / f"{dataset}_dte.npy"

    def mte(self, method: str, dataset: str) -> Path:
        """The MTE of the LM fine-tuned on `dataset`."""
        return self.embeddings() / method / f"{dataset}_mte.npy"

    def llm_mte(self, method: str, llm: str, genre: str, prompt: int) -> Path:
        return self.embeddings() / method / f"{model_slug(llm)}_{genre}_p{prompt}_mte.npy"

    def inference_dir(self) -> Path:
        return self.seed_dir / "llm"

    def inference(self, llm: str, dataset: str, prompt: int) -> Path:
        return self.inference_dir() / model_slug(llm) / f"{dataset}_p{prompt}.json"

    def llm_inputs(self, genre: str) -> Path:
        """x' of a genre, for the LLMs to answer."""
        return self.seed_dir / "llm_te" / f"{genre}_x.jsonl"

    def llm_answers(self, llm: str, genre: str, prompt: int) -> Path:
        """y': the LLM's answers to x' under a prompt."""
        return self.seed_dir / "llm_te" / f"{model_slug(llm)}_{genre}_p{prompt}.jsonl"

    def selection_dir(self) -> Path:
        return self.seed_dir / "selection"

    def selection(self, llm: str, dataset: str) -> Path:
        return self.selection_dir() / f"{model_slug(llm)}_{dataset}.json"

    def table(self, name: str) -> Path:
        """The stem of a table (transfer, prompt, space): <stem>.md, .csv, .json (every seed's, in one)."""
        return self.root / "eval" / name

    def plot(self, name: str) -> Path:
        """The stem of a set of plots."""
        return self.root / "eval" / "plots" / name
