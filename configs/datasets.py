"""What a dataset is (`DatasetSpec`), and the facts shared by every dataset: LLM genres, prompts, task types.

The datasets themselves are data: the paper's are declared in `configs/datasets.yaml`, a
user's own in a file of the same form (docs/your_data.md), and both are read by one parser,
`data_utils/declarations.py`, into `DatasetSpec`s (`data_utils.declarations.DATASETS` is the
registry). Label names are listed in the index order of the Hugging Face dataset itself (the
original's schema listed some in another order, e.g. wnli and financial_phrasebank).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from configs.archives import Archive

# The label order of each LLM task genre: every LLM dataset's gold label is
# mapped into it by name, and all LLM outputs use it.
GENRE_LABELS: dict[str, tuple[str, ...]] = {
    "sa": ("negative", "positive"),
    "nli": ("entailment", "neutral", "contradiction"),
}
GENRES: tuple[str, ...] = tuple(GENRE_LABELS)
# The prompts of each genre (configs/prompts/<genre>.json): NUM_TEMPLATES templates, numbered from 0,
# then templates 0-2 again with the chain-of-thought instruction: prompt numbers 0..NUM_PROMPTS-1.
NUM_TEMPLATES = 10
NUM_PROMPTS = 13
# The family an LLM + prompt MTE of each genre should land in.
GENRE_FAMILY: dict[str, str] = {"sa": "sentiment", "nli": "nli"}
# What a task embedding is learned for: a dataset class (classification/regression, extractive QA)
# or an LLM task genre.
TASK_TYPES: tuple[str, ...] = ("cr", "qa", *GENRES)

# The split an LLM evaluation set without a dev split answers by default: its dev cut (DatasetSpec).
DEV_CUT = "dev"
# Where the eight MultiQA sets are published (SQuAD-2.0 JSON, gzipped).
MULTIQA_URL = "https://multiqa.s3.amazonaws.com/squad2-0_format_data/{name}_{split}.json.gz"


@dataclass(frozen=True)
class Declaration:
    """Where a dataset declared outside the registry came from: the file as given on the command line,
    its absolute path and the SHA-256 of its bytes (recorded with every output made from it)."""

    given: str
    path: str
    sha256: str


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset's facts (the keys of a declaration, docs/your_data.md, in brackets).

    task_class: "cr" (classification/regression) or "qa" (extractive QA) [task], the class of problems TaskEmb
        groups datasets by (in-class and all-class transfer).
    family: the task family the unified-space table groups it in (sentiment, paraphrase, nli,
        ...); None for none.
    inputs: the fields holding the text fed to the model, the first and (a sentence pair) the
        second text [columns.text, columns.text_pair]; QA: question and context.
    labels: label names in the dataset's own index order; empty for regression.
    label_field: the field holding the gold label [columns.label]: an int index, a string naming
        a label (or a value of label_values), or, with label_transform="first_char", a string
        whose first character names it.
    label_values: (value in the data, label name) pairs, for data that spells labels otherwise
        ("neg" for negative).
    label_range: regression only, the (low, high) a gold value may take (stsb: 0-5). A value
        outside it is an error naming it, except -1, the hub's marker for "no gold label"
        (GLUE's test splits), which is read as such when the range excludes it.
    metrics: every metric reported; main_metric is also reported as "best".
    train_split / dev_split: the splits' names [splits]; dev_split None = a seeded 80/20 cut of
        train (configs/hparams.py DEV_SPLIT).
    files: (split, absolute path) of local data [files: train, dev, test]; the splits are then
        "train", "dev" (when given) and "test".
    columns: QA only, (column in the data, field it is read as) pairs for data whose columns are
        not named question, context, answers, id, title.
    llm_genre / llm_eval_split: an LLM evaluation set: the genre whose prompts it is answered
        with, and the split answered (DEV_CUT with dev_split None: the dev cut) [llm.genre, llm.split].
    llm_labels: (label, genre label) pairs where a label's name is not the genre's [llm.labels].
    llm_verbalizers: (label, answer words) pairs: the dataset's own verbalizers, used with its
        genre's templates, in place of the genre's labels and words [llm.verbalizers].
    hub_id / hub_config / revision / data_dir: where the data is on the Hugging Face hub [hub]:
        revision e.g. "refs/convert/parquet", the automatic parquet conversion of a repository
        that holds only a loading script; data_dir the folder of the repository to read (on the
        parquet branch, one folder per config: it selects the config, with hub_config None).
        data_utils/hub_read.py describes the read.
    multiqa_name: for the MultiQA QA sets, the file name stem of the published data.
    optional_pair: CR pairs only, a second text that may be empty (Yahoo! Answers' question details):
        such an example is read as its first text with an empty text_pair, as an x' without a pair
        enters a pair target, where an empty input otherwise leaves the example out [optional_pair].
    yes_no: QA only, answers that are yes/no (a boolean or 0/1 in the answers column), read as extractive QA
        (data_utils.examples.yes_no_rows): the context begins "yes no ", and the gold answer is one of those two
        words [yes_no].
    archive: a source file the repository publishes beside its loading script
        (configs/archives.py), read when the `datasets` call fails.
    tsv_rename / tsv_columns: GLUE's original TSV downloads (glue_data/<TASK>/train.tsv,
        dev.tsv) name some columns otherwise: (TSV column, field) pairs to rename, and the
        column names of a file without a header row (CoLA's).
    declaration: the file that declared it; None for the registry's own.
    """

    name: str
    task_class: str
    hub_id: str | None = None
    hub_config: str | None = None
    train_split: str = "train"
    dev_split: str | None = "validation"
    inputs: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    label_field: str = "label"
    label_transform: str | None = None
    regression: bool = False
    label_range: tuple[float, float] | None = None
    metrics: tuple[str, ...] = ("accuracy",)
    main_metric: str = "accuracy"
    llm_genre: str | None = None
    llm_eval_split: str | None = None
    multiqa_name: str | None = None
    revision: str | None = None
    data_dir: str | None = None
    archive: Archive | None = None
    tsv_rename: tuple[tuple[str, str], ...] = ()
    tsv_columns: tuple[str, ...] = ()
    yes_no: bool = False
    optional_pair: bool = False
    notes: str = field(default="", compare=False)
    family: str | None = None
    label_values: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    llm_labels: tuple[tuple[str, str], ...] = ()
    llm_verbalizers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    declaration: Declaration | None = field(default=None, compare=False)

    @property
    def num_labels(self) -> int:
        return 1 if self.regression else len(self.labels)

    @property
    def is_pair(self) -> bool:
        return len(self.inputs) == 2

    @property
    def llm_label_names(self) -> tuple[str, ...]:
        """The labels an LLM's answers are scored in: the dataset's own with its own verbalizers, else its
        genre's (GENRE_LABELS)."""
        return self.labels if self.llm_verbalizers else GENRE_LABELS[self.llm_genre]

    def llm_label(self, index: int) -> int:
        """The gold label of index `index` (in `labels`) -> its index in `llm_label_names`, by name."""
        name = self.labels[index]
        return self.llm_label_names.index(name if self.llm_verbalizers else dict(self.llm_labels).get(name, name))


def is_cot_prompt(number: int) -> bool:
    """True for the chain-of-thought prompts (10-12: templates 0-2 with the CoT instruction)."""
    return number >= NUM_TEMPLATES
