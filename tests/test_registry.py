"""The dataset registry holds every dataset of the paper with complete, consistent facts."""
from configs.datasets import GENRE_LABELS
from data_utils.declarations import CR_DATASETS, DATASETS, LLM_DATASETS, QA_DATASETS
from data_utils.metrics import METRICS

# Guards of paper facts, written out here independently of the registry (README "Datasets").
PAPER_CR = ["wnli", "mrpc", "cola", "stsb", "rte", "boolq", "sst2", "scitail", "qnli", "snli", "qqp", "mnli",
           "financial_phrasebank", "medqa", "medical_questions_pairs", "cb", "anli", "wanli", "imdb",
           "rotten_tomatoes"]
# boolq_qa: BoolQ as the QA task of the paper's transferability pool (configs/paper_results.py).
PAPER_QA = ["squad", "squad_v2", "cq", "comqa", "wikihop", "duorcp", "duorcs", "newsqa", "drop", "hotpotqa", "boolq_qa"]
PAPER_LLM = {"sst2": "sa", "imdb": "sa", "rotten_tomatoes": "sa", "cb": "nli", "anli": "nli", "wanli": "nli"}
# Beyond the paper: the CPU demo's topic family.
TOPIC = {"ag_news": ("fancyzhx/ag_news", ("text",), "label", ("World", "Sports", "Business", "Sci/Tech")),
         "yahoo_answers_topics": ("community-datasets/yahoo_answers_topics", ("question_title", "question_content"), "topic", (
             "Society & Culture", "Science & Mathematics", "Health", "Education & Reference", "Computers & Internet",
             "Sports", "Business & Finance", "Entertainment & Music", "Family & Relationships",
             "Politics & Government"))}


def test_every_dataset_of_the_paper_is_registered():
    assert sorted(CR_DATASETS) == sorted(PAPER_CR + list(TOPIC))
    assert sorted(QA_DATASETS) == sorted(PAPER_QA)
    assert {name: spec.llm_genre for name, spec in LLM_DATASETS.items()} == PAPER_LLM


def test_every_entry_is_complete():
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert spec.task_class in ("cr", "qa")
        assert spec.train_split
        assert 1 <= len(spec.inputs) <= 2, name
        assert spec.main_metric in spec.metrics, name
        assert spec.hub_id or spec.multiqa_name, name
        if spec.task_class == "cr":
            assert set(spec.metrics) <= set(METRICS), name
            assert spec.regression or len(spec.labels) >= 2, name
            assert spec.label_field


def test_pair_datasets_read_two_different_fields():
    for spec in DATASETS.values():
        if spec.is_pair:
            assert spec.inputs[0] != spec.inputs[1], spec.name
    # The reference read sentence1 twice for these three.
    for name in ("rte", "stsb", "wnli"):
        assert DATASETS[name].inputs == ("sentence1", "sentence2")


def test_label_orders_are_the_hub_datasets_own():
    assert DATASETS["wnli"].labels == ("not_entailment", "entailment")
    assert DATASETS["financial_phrasebank"].labels == ("negative", "neutral", "positive")
    assert DATASETS["cb"].labels == ("entailment", "contradiction", "neutral")
    assert DATASETS["anli"].labels == ("entailment", "neutral", "contradiction")
    assert DATASETS["stsb"].regression and DATASETS["stsb"].num_labels == 1


def test_llm_datasets_map_into_their_genre_label_order():
    for name, spec in LLM_DATASETS.items():
        assert spec.llm_eval_split, name
        assert sorted(spec.labels) == sorted(GENRE_LABELS[spec.llm_genre]), name


def test_dev_splits_never_use_a_test_split():
    assert DATASETS["anli"].dev_split == "dev_r3"
    for spec in DATASETS.values():
        assert spec.dev_split is None or "test" not in spec.dev_split, spec.name
    # No dev split on the hub: cut 80/20 from train.
    for name in ("imdb", "wanli", "financial_phrasebank", "medqa", "medical_questions_pairs"):
        assert DATASETS[name].dev_split is None


def test_hub_reads_choose_parquet_configs_by_folder_and_archives_hold_the_fields_read():
    for spec in DATASETS.values():
        # The parquet branch holds one folder per config and no metadata: a config name is not found there.
        assert not (spec.revision == "refs/convert/parquet" and spec.hub_config), spec.name
        if spec.archive is not None:
            assert {*spec.inputs, spec.label_field} <= set(spec.archive.fields), spec.name
    phrasebank = DATASETS["financial_phrasebank"]
    assert (phrasebank.hub_id, phrasebank.hub_config, phrasebank.revision, phrasebank.data_dir) == (
        "takala/financial_phrasebank", None, "refs/convert/parquet", "sentences_allagree")
    assert (phrasebank.archive.file, phrasebank.archive.members) == (
        "data/FinancialPhraseBank-v1.0.zip", ("FinancialPhraseBank-v1.0/Sentences_AllAgree.txt",))


def test_topic_family_has_the_hubs_ids_fields_and_label_order():
    for name, (hub_id, inputs, label, labels) in TOPIC.items():
        spec = DATASETS[name]
        assert (spec.family, spec.hub_id, spec.hub_config) == ("topic", hub_id, None), name
        assert (spec.inputs, spec.label_field, spec.labels) == (inputs, label, labels), name
        assert spec.optional_pair == (name == "yahoo_answers_topics"), name  # its details are often empty
        assert (spec.train_split, spec.dev_split, spec.llm_genre) == ("train", None, None), name  # train/test only
