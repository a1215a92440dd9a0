"""The paper's reported numbers and the setup they were measured in, as data.

Source: Wang, Xu, Gui and He, "Towards Unified Task Embeddings Across Multiple Models: Bridging the Gap for
Prompt-Based Large Language Models and Beyond", Findings of ACL 2024 (doi 10.18653/v1/2024.findings-acl.493):
the transferability table (`TRANSFER`, "Table A" here) and the prompt-selection table (`PROMPT`, "Table B"),
transcribed from the authors' slides of the paper, whose tables they are. The reference rows of our tables
(data_utils/paper_reference.py) print these, marked as the paper's, beside our own.

Rows are keyed by our ids where we compute the method (configs/methods.py, task_emb/transfer_eval.DATASIZE,
llm_inference/selection_baselines.py) and by the paper's name where we do not (CurveGrad). Numbers are as
printed: percent, ρ the mean rank of the truly best source (lower is better); None where the paper prints "-".
"""
from __future__ import annotations

CITATION = "Wang et al., \"Towards Unified Task Embeddings Across Multiple Models\", Findings of ACL 2024"
# What each of our tables shows of it.
TABLES = {"transfer": "its transferability table (Table A here)", "prompt": "its prompt-selection table (Table B here)"}

# ---------------------------------------------------------------------------------------------- the setup

# Table A's pool, TaskEmb's (Vu et al., EMNLP 2020) 11 CR and 11 QA sets, which TuPaTE (Zhou et al., EMNLP 2022)
# reuses; BoolQ is a QA task there, run here as `boolq_qa` (configs/datasets.yaml gives the evidence).
POOL: dict[str, tuple[str, ...]] = {
    "cr": ("cola", "mnli", "mrpc", "qnli", "qqp", "rte", "scitail", "snli", "sst2", "stsb", "wnli"),
    "qa": ("squad", "squad_v2", "newsqa", "hotpotqa", "boolq_qa", "drop", "wikihop", "duorcp", "duorcs", "cq", "comqa"),
}
# The models of Table A, each by the names that denote it (the first as the paper names it; then its hub id now):
# the LM fine-tuned on every set (its transfers are the truth), and the surrogate T of the task embeddings.
LM: tuple[str, ...] = ("bert-base-uncased", "google-bert/bert-base-uncased")
SURROGATE: tuple[str, ...] = ("t5-base", "google-t5/t5-base")
# Table B: its LLMs (configs/models.py aliases, in the table's column order) and each genre's evaluation sets.
LLMS: tuple[str, ...] = ("llama-13b", "llama-70b", "mixtral")
LLM_NAMES: dict[str, str] = {"llama-13b": "Llama 2 13B", "llama-70b": "Llama 2 70B", "mixtral": "Mixtral 8x7B"}
LLM_SETS: dict[str, tuple[str, ...]] = {"sa": ("sst2", "imdb", "rotten_tomatoes"), "nli": ("cb", "anli", "wanli")}
NUM_PROMPTS = 13

# ---------------------------------------------------------------------------------------------- Table A

TRANSFER_COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    (cls, scope, metric) for cls in ("cr", "qa") for scope in ("in_class", "all_class") for metric in ("rho", "ndcg"))
# id (or the paper's name where we have no such method) -> (paper's row name, the 8 numbers in TRANSFER_COLUMNS
# order: CR in-class ρ, NDCG, CR all-class ρ, NDCG, QA in-class ρ, NDCG, QA all-class ρ, NDCG).
TRANSFER: dict[str, tuple[str, tuple[float | None, ...]]] = {
    "datasize": ("DataSize", (3.6, 80.4, 7.8, 75.2, 3.2, 84.4, 11.4, 65.8)),
    "CurveGrad": ("CurveGrad", (5.5, 68.6, None, None, 8.3, 64.8, None, None)),
    "textemb": ("TextEmb", (5.2, 76.4, 9.8, 74.7, 4.1, 81.1, 5.8, 82.0)),
    "fim-baseline": ("TaskEmb", (2.8, 82.3, 5.4, 78.3, 3.2, 84.5, 5.4, 82.8)),
    "prefix-baseline": ("TuPaTE", (2.5, 83.7, 4.5, 81.0, 3.0, 85.7, 4.8, 83.3)),
    "fim-fute": ("FUTE + TaskEmb", (4.4, 79.4, 7.0, 77.9, 4.5, 83.5, 5.3, 84.3)),
    "prefix-fute": ("FUTE + TuPaTE", (3.3, 83.8, 6.2, 82.0, 3.3, 85.6, 4.1, 84.8)),
}

# ---------------------------------------------------------------------------------------------- Table B

PROMPT_NUMBERS = ("performance", "rate", "ndcg")
# genre -> id -> (paper's row name, the 9 numbers: per LLM in LLMS order, Performance, Rate, NDCG). MDL, which
# we compute, is not in the paper's table. Mixtral's SA ZPS-Vote Rate is printed 52.1 where ZPS-Log and ZPS-Prob,
# with the same Performance, have 62.1: kept as printed.
PROMPT: dict[str, dict[str, tuple[str, tuple[float, ...]]]] = {
    "sa": {
        "mi": ("MI", (88.0, 94.4, 59.0, 85.3, 90.9, 72.9, 87.2, 85.1, 65.1)),
        "le": ("LocalE", (84.3, 90.2, 47.5, 88.3, 88.7, 57.5, 88.5, 96.7, 78.6)),
        "ge": ("GlobalE", (89.2, 95.7, 88.8, 91.9, 97.9, 82.7, 88.4, 96.6, 86.7)),
        "zlpm": ("ZPS-Log", (54.3, 58.2, 38.5, 78.0, 83.0, 54.0, 57.0, 62.1, 33.9)),
        "zpm": ("ZPS-Prob", (54.3, 58.2, 38.5, 78.0, 83.0, 50.8, 57.0, 62.1, 33.9)),
        "zmv": ("ZPS-Vote", (54.3, 58.2, 38.5, 78.0, 83.0, 50.8, 57.0, 52.1, 33.9)),
        "selfsel": ("Self-Select", (54.3, 58.2, 42.8, 85.3, 90.9, 69.3, 57.0, 62.1, 38.5)),
        "spell": ("SPELL", (89.2, 95.7, 89.6, 79.6, 84.6, 65.4, 57.0, 62.1, 38.2)),
        "fim-fute": ("FUTE + TaskEmb", (89.6, 96.1, 89.4, 93.0, 99.0, 74.5, 86.9, 94.9, 71.1)),
        "prefix-fute": ("FUTE + TuPaTE", (89.2, 95.7, 55.6, 92.4, 98.4, 67.9, 87.9, 95.8, 52.2)),
    },
    "nli": {
        "mi": ("MI", (46.8, 90.1, 61.7, 48.6, 94.8, 74.6, 37.2, 73.6, 36.7)),
        "le": ("LocalE", (37.5, 74.4, 56.4, 43.9, 84.6, 66.6, 39.1, 78.6, 43.5)),
        "ge": ("GlobalE", (40.4, 80.4, 65.3, 48.2, 93.7, 76.9, 40.2, 79.1, 44.1)),
        "zlpm": ("ZPS-Log", (34.8, 70.2, 48.1, 34.9, 66.8, 49.5, 39.0, 76.5, 41.7)),
        "zpm": ("ZPS-Prob", (32.6, 65.6, 39.7, 38.0, 73.2, 51.2, 39.5, 78.9, 39.3)),
        "zmv": ("ZPS-Vote", (32.6, 65.6, 39.7, 33.7, 64.3, 48.4, 39.5, 78.9, 39.3)),
        "selfsel": ("Self-Select", (33.9, 68.1, 39.5, 39.7, 76.7, 53.6, 39.1, 78.6, 43.9)),
        "spell": ("SPELL", (42.4, 84.4, 78.1, 48.6, 94.8, 77.2, 39.1, 78.6, 41.5)),
        "fim-fute": ("FUTE + TaskEmb", (35.8, 72.0, 47.4, 41.1, 78.8, 60.8, 43.2, 85.6, 49.1)),
        "prefix-fute": ("FUTE + TuPaTE", (37.0, 75.0, 71.8, 50.6, 98.4, 81.8, 40.8, 81.3, 44.4)),
    },
}
