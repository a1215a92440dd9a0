"""Every dataset of the paper, as data: where it lives, its splits, fields, labels and metrics.

Nothing about a dataset is hard-coded anywhere else. Label names are listed in
the index order of the Hugging Face dataset itself (the original's schema listed
some in another order, e.g. wnli and financial_phrasebank). A dataset whose
`dev_split` is None is cut 80/20 from its training split with seed 42.

Hub ids are the datasets' current homes (the un-namespaced ids the original used,
such as "glue" or "imdb", moved, and `datasets` >= 4 no longer runs loading
scripts). They could not be checked from the offline machine this was written
on: if one moved again, pass the data through `--dataset_path`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from configs.archives import FINANCIAL_PHRASEBANK_ALLAGREE, Archive

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
# Task families for the unified-space evaluation (task_emb/space_eval.py): the MTE of a model
# fine-tuned on a task should land nearest a DTE of the same family. Every registry dataset is in one.
TASK_FAMILIES: dict[str, tuple[str, ...]] = {
    "sentiment": ("sst2", "imdb", "rotten_tomatoes", "financial_phrasebank"),
    "paraphrase": ("mrpc", "qqp", "stsb", "medical_questions_pairs"),
    "nli": ("rte", "mnli", "snli", "qnli", "wnli", "scitail", "cb", "anli", "wanli"),
    "acceptability": ("cola",),
    "question answering": ("boolq", "medqa", "squad", "squad_v2", "cq", "comqa", "wikihop", "duorcp", "duorcs",
                           "newsqa", "drop", "hotpotqa"),
}
# The family an LLM + prompt MTE of each genre should land in.
GENRE_FAMILY: dict[str, str] = {"sa": "sentiment", "nli": "nli"}
# What a task embedding is learned for: a dataset class (classification/regression, extractive QA)
# or an LLM task genre.
TASK_TYPES: tuple[str, ...] = ("cr", "qa", *GENRES)

# Where the eight MultiQA sets are published (SQuAD-2.0 JSON, gzipped).
MULTIQA_URL = "https://multiqa.s3.amazonaws.com/squad2-0_format_data/{name}_{split}.json.gz"


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset's facts.

    task: "cr" (classification/regression) or "qa" (extractive QA).
    inputs: the text fields fed to the model (two fields = a sentence pair).
    labels: label names in the dataset's own index order; empty for regression.
    label_range: regression only, the (low, high) a gold value may take (stsb: 0-5). A value
        outside it is an error naming it, except -1, the hub's marker for "no gold label"
        (GLUE's test splits), which is read as such when the range excludes it.
    label_field: the field holding the gold label (an int index, or a string
        naming a label, or, with label_transform="first_char", a string whose
        first character names it).
    metrics: every metric reported; main_metric is also reported as "best".
    llm_genre / llm_eval_split: set for the six LLM evaluation sets.
    multiqa_name: for the MultiQA QA sets, the file name stem of the published data.
    revision: the hub revision to read (e.g. "refs/convert/parquet", the automatic parquet
        conversion of a repository that holds only a loading script); None = main.
    data_dir: the folder of the repository (at `revision`) to read; on the parquet branch,
        which holds one folder per config and no metadata, this selects the config (with
        hub_config None). data_utils/hub_read.py describes the read.
    archive: a source file the repository publishes beside its loading script
        (configs/archives.py), read when the `datasets` call fails.
    tsv_rename / tsv_columns: GLUE's original TSV downloads (glue_data/<TASK>/train.tsv,
        dev.tsv) name some columns otherwise: (TSV column, field) pairs to rename, and the
        column names of a file without a header row (CoLA's).
    """

    name: str
    task: str
    hub_id: str | None
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
    notes: str = field(default="", compare=False)

    @property
    def num_labels(self) -> int:
        return 1 if self.regression else len(self.labels)

    @property
    def is_pair(self) -> bool:
        return len(self.inputs) == 2


def _glue(config: str, inputs, labels, metrics=("accuracy",), main="accuracy", **kw) -> DatasetSpec:
    return DatasetSpec(name=config, task="cr", hub_id="nyu-mll/glue", hub_config=config, inputs=tuple(inputs),
                       labels=tuple(labels), metrics=tuple(metrics), main_metric=main, **kw)


_NLI3 = ("entailment", "neutral", "contradiction")
_MACRO = ("accuracy", "macro_f1")

CR_DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in [
    _glue("wnli", ["sentence1", "sentence2"], ["not_entailment", "entailment"]),
    _glue("mrpc", ["sentence1", "sentence2"], ["not_equivalent", "equivalent"], ("accuracy", "f1"), "f1",
          tsv_rename=(("Quality", "label"), ("#1 String", "sentence1"), ("#2 String", "sentence2"))),
    _glue("cola", ["sentence"], ["unacceptable", "acceptable"], ("matthews_correlation",), "matthews_correlation",
          tsv_columns=("source", "label", "original_label", "sentence")),
    _glue("stsb", ["sentence1", "sentence2"], [], ("pearsonr", "spearmanr"), "spearmanr", regression=True,
          label_range=(0.0, 5.0), tsv_rename=(("score", "label"),)),
    _glue("rte", ["sentence1", "sentence2"], ["entailment", "not_entailment"]),
    _glue("sst2", ["sentence"], ["negative", "positive"], llm_genre="sa", llm_eval_split="validation"),
    _glue("qnli", ["question", "sentence"], ["entailment", "not_entailment"]),
    _glue("qqp", ["question1", "question2"], ["not_duplicate", "duplicate"], ("accuracy", "f1"), "f1",
          tsv_rename=(("is_duplicate", "label"),)),
    _glue("mnli", ["premise", "hypothesis"], _NLI3, dev_split="validation_matched",
          tsv_rename=(("sentence1", "premise"), ("sentence2", "hypothesis"), ("gold_label", "label"))),
    DatasetSpec("boolq", "cr", "aps/super_glue", "boolq", inputs=("question", "passage"), labels=("False", "True")),
    DatasetSpec("scitail", "cr", "allenai/scitail", "tsv_format", inputs=("premise", "hypothesis"),
                labels=("neutral", "entails"), notes="labels are strings in the hub data"),
    DatasetSpec("snli", "cr", "stanfordnlp/snli", inputs=("premise", "hypothesis"), labels=_NLI3,
                notes="examples labelled -1 (no gold label) are dropped"),
    # takala/financial_phrasebank holds only a loading script, which datasets>=4 refuses: its parquet
    # conversion (one folder per config, selected by data_dir) is read if the hub still has it, otherwise
    # the published zip in the same repository (Sentences_AllAgree.txt, the paper's data).
    DatasetSpec("financial_phrasebank", "cr", "takala/financial_phrasebank", None, dev_split=None,
                inputs=("sentence",), labels=("negative", "neutral", "positive"), revision="refs/convert/parquet",
                data_dir="sentences_allagree", archive=FINANCIAL_PHRASEBANK_ALLAGREE),
    DatasetSpec("medqa", "cr", "medalpaca/medical_meadow_medqa", dev_split=None, inputs=("input", "instruction"),
                labels=("A", "B", "C", "D", "E"), label_field="output", label_transform="first_char"),
    DatasetSpec("medical_questions_pairs", "cr", "curaihealth/medical_questions_pairs", dev_split=None,
                inputs=("question_1", "question_2"), labels=("otherwise", "similar"),
                metrics=("accuracy", "f1"), main_metric="f1"),
    # The six LLM evaluation sets also have CR entries, for their dataset task embeddings.
    DatasetSpec("cb", "cr", "aps/super_glue", "cb", inputs=("premise", "hypothesis"),
                labels=("entailment", "contradiction", "neutral"), metrics=_MACRO, main_metric="macro_f1",
                llm_genre="nli", llm_eval_split="validation"),
    DatasetSpec("anli", "cr", "facebook/anli", train_split="train_r3", dev_split="dev_r3",
                inputs=("premise", "hypothesis"), labels=_NLI3, metrics=_MACRO, main_metric="macro_f1",
                llm_genre="nli", llm_eval_split="test_r3"),
    DatasetSpec("wanli", "cr", "alisawuffles/WANLI", dev_split=None, inputs=("premise", "hypothesis"),
                labels=_NLI3, label_field="gold", metrics=_MACRO, main_metric="macro_f1",
                llm_genre="nli", llm_eval_split="test"),
    DatasetSpec("imdb", "cr", "stanfordnlp/imdb", dev_split=None, inputs=("text",), labels=("negative", "positive"),
                llm_genre="sa", llm_eval_split="test"),
    DatasetSpec("rotten_tomatoes", "cr", "cornell-movie-review-data/rotten_tomatoes", inputs=("text",),
                labels=("negative", "positive"), llm_genre="sa", llm_eval_split="test"),
]}


def _multiqa(name: str, stem: str) -> DatasetSpec:
    return DatasetSpec(name=name, task="qa", hub_id=None, multiqa_name=stem, inputs=("question", "context"),
                       metrics=("exact", "f1"), main_metric="f1")


QA_DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in [
    DatasetSpec("squad", "qa", "rajpurkar/squad", inputs=("question", "context"), metrics=("exact", "f1"),
                main_metric="f1"),
    DatasetSpec("squad_v2", "qa", "rajpurkar/squad_v2", inputs=("question", "context"), metrics=("exact", "f1"),
                main_metric="f1"),
    _multiqa("cq", "ComplexQuestions"),
    _multiqa("comqa", "ComQA"),
    _multiqa("wikihop", "WikiHop"),
    _multiqa("duorcp", "DuoRC_Paraphrase"),
    _multiqa("duorcs", "DuoRC_Self"),
    _multiqa("newsqa", "NewsQA"),
    _multiqa("drop", "DROP"),
    _multiqa("hotpotqa", "HotpotQA"),
]}

DATASETS: dict[str, DatasetSpec] = {**CR_DATASETS, **QA_DATASETS}

LLM_DATASETS: dict[str, DatasetSpec] = {name: spec for name, spec in CR_DATASETS.items() if spec.llm_genre}


def is_cot_prompt(number: int) -> bool:
    """True for the chain-of-thought prompts (10-12: templates 0-2 with the CoT instruction)."""
    return number >= NUM_TEMPLATES
