"""The unsupervised pool U: the CrossFit datasets the reference reads x' from (data only).

Each entry names where a dataset lives on the Hugging Face hub today, the split read
(the reference read each CrossFit task's training lines) and one or two *segment
templates*. A template is a `str.format` string over the row's fields; it rebuilds
one "[SEP]"-separated segment of the CrossFit input text, field labels included
("premise: ...", "sentence 1: ..."), because the reference kept the first two
segments of that text as x' (one text, or a pair). `{a[b]}` reads a nested field;
a field holding a list of strings is joined with spaces.

Approximations, where the CrossFit formatter computed more than a field:
multiple-choice option strings appended to a question are left out (ai2_arc, codah,
commonsense_qa, ...); nested contexts are left out (hotpot_qa, wiki_bio's table);
row filters on labels are not applied (hate_speech18, google_wellformed_query, ...);
blimp and crows_pairs keep one sentence order instead of a random one; tasks the
reference cut 80/20 from one split read the whole split here.

Hub ids: the reference called `datasets.load_dataset(<short name>)`, which ran a
loading script. `datasets>=4` refuses scripts, so the ids below are the repositories
the datasets moved to (mostly parquet). Where copies of public hub pages, commits and
code (2025-26) showed an entry wrong, it was corrected; each correction says its kind:
  moved     the repository moved to another id (same data and fields);
  parquet   the repository still holds only a loading script, but its automatic parquet
            conversion (`revision="refs/convert/parquet"`) loads; that branch holds one
            folder per config and no metadata, so a config is selected by `data_dir`
            (config None), never by name;
  mirror    a third-party parquet re-upload of a script-only repository ("fields
            checked" where its field names were seen to match the template);
  archive   the repository holds only a loading script and the source file it read
            (configs/archives.py); the file is downloaded and read in the script's layout
            when the `datasets` call fails (data_utils/hub_read.py describes both steps).
Where a replacement's data differ from the reference's, the comment says how. By the
public evidence up to December 2026 (copies of pages, commits and code, no live load),
no entry is known to fail; 41 entries were never checked either way (ids from a map of
the legacy names, or not looked at). `python scripts/check_hub.py --pool` checks each
against the live hub along the loader's own path; a source that fails is skipped and
recorded by `data_utils.unsup_pool.load_hub_pool`, and a run stops when more than 10% of
the sources it reads fail.
"""
from __future__ import annotations

from dataclasses import dataclass

from configs.archives import FINANCIAL_PHRASEBANK_ALLAGREE, GIGAWORD_TRAIN, SEARCH_QA_TRAIN, WIKI_BIO_TRAIN, Archive


@dataclass(frozen=True)
class PoolSource:
    """Where one pool dataset lives and how its x' text is built from a row."""

    hub_id: str
    config: str | None = None
    split: str = "train"
    # One template = a single text; two = a pair (text, text_pair).
    templates: tuple[str, ...] = ("{text}",)
    # A hub revision to read, e.g. "refs/convert/parquet" for a script-only repository, and the folder
    # of it to read (on that branch: the config).
    revision: str | None = None
    data_dir: str | None = None
    # The source file the repository publishes beside its loading script, read when the hub call fails.
    archive: Archive | None = None


_S = PoolSource
_PARQUET = "refs/convert/parquet"
_PAIR_S12 = ("sentence 1: {sentence1}", "sentence 2: {sentence2}")
_PAIR_NLI = ("premise: {premise}", "hypothesis: {hypothesis}")

# Names are the reference's `get_read_list()` (its CrossFit task names), in its order.
POOL_SOURCES: dict[str, PoolSource] = {
    "acronym_identification": _S("amirveyseh/acronym_identification", templates=("{tokens}",)),
    "ade_classification": _S("ade-benchmark-corpus/ade_corpus_v2", "Ade_corpus_v2_classification"),
    "ade_dosage": _S("ade-benchmark-corpus/ade_corpus_v2", "Ade_corpus_v2_drug_dosage_relation", templates=("{text}", "{drug}")),
    "ade_effect": _S("ade-benchmark-corpus/ade_corpus_v2", "Ade_corpus_v2_drug_ade_relation", templates=("{text}", "{drug}")),
    "adversarial_qa": _S("UCLNLP/adversarial_qa", "adversarialQA", templates=("question: {question} context: {context}",)),
    "aeslc": _S("Yale-LILY/aeslc", templates=("summarize: {email_body}",)),
    "agnews": _S("fancyzhx/ag_news"),
    "ai2_arc": _S("allenai/ai2_arc", "ARC-Challenge", templates=("{question}",)),
    "amazon_polarity": _S("fancyzhx/amazon_polarity", templates=("title: {title}", "content: {content}")),
    "anli": _S("facebook/anli", split="train_r1", templates=_PAIR_NLI),
    "app_reviews": _S("sealuzh/app_reviews", templates=("review: {review}",)),
    "aqua_rat": _S("deepmind/aqua_rat", "raw", templates=("{question}",)),
    "art": _S("allenai/art", templates=("observation 1: {observation_1}", "observation 2: {observation_2}")),
    "aslg_pc12": _S("achrafothman/aslg_pc12"),
    "biomrc": _S("nlpaueb/biomrc", templates=("question: {title} context: {abstract}",), revision=_PARQUET,
                 data_dir="biomrc_large_B"),  # moved (PetrosStav/biomrc does not exist), parquet
    # The reference instantiated BLIMP without a paradigm; the first paradigm stands in.
    "blimp": _S("nyu-mll/blimp", "adjunct_island", templates=("sentence 1: {sentence_good}", "sentence 2: {sentence_bad}")),
    "boolq": _S("google/boolq", templates=("question: {question}", "context: {passage}")),
    "break": _S("allenai/break_data", "QDMR", templates=("question: {question_text}",)),
    "circa": _S("google-research-datasets/circa", templates=("context: {context}", "question X: {question-X}")),
    "climate_fever": _S("tdiggelm/climate_fever", split="test", templates=("{claim}",)),
    "codah": _S("jaredfern/codah", "fold_0", templates=("{question_propmt}",)),
    "commongen": _S("allenai/common_gen", templates=("{concepts}",)),
    "commonsense_qa": _S("tau/commonsense_qa", templates=("{question}",)),
    "cos_e": _S("Salesforce/cos_e", "v1.11", templates=("{question}",)),
    "cosmos_qa": _S("Samsoup/cosmos_qa", templates=("{question}", "{context}")),  # mirror (allenai/cosmos_qa)
    "crawl_domain": _S("Zaid/crawl_domain", templates=("{example}",)),
    # mirror of nyu-mll/crows_pairs: the revised English set, 1,677 pairs where the reference read the original 1,508.
    "crows_pairs": _S("jannalu/crows_pairs_multilingual", "english", split="test",
                      templates=("sentence 1: {sent_more}", "sentence 2: {sent_less}")),
    "dbpedia_14": _S("fancyzhx/dbpedia_14", templates=("{content}",)),
    "definite_pronoun_resolution": _S("community-datasets/definite_pronoun_resolution", "plain_text", templates=("{sentence}", "{pronoun}")),
    "discovery": _S("sileod/discovery", "discovery", templates=_PAIR_S12),
    "dream": _S("dataset-org/dream", templates=("{question}", "{dialogue}"), revision=_PARQUET,
                data_dir="plain_text"),  # parquet
    "duorc": _S("ibm/duorc", "SelfRC", templates=("question: {question} context: {plot}",)),
    "e2e_nlg_cleaned": _S("tuetschek/e2e_nlg_cleaned", templates=("{meaning_representation}",)),
    # mirror (SemEvalWorkshop/emo): it holds the dialogue as three turns, not the original's one `text`; joined here.
    "emo": _S("oneonlee/cleansed_emocontext", templates=("{turn1} {turn2} {turn3}",)),
    "emotion": _S("dair-ai/emotion"),
    "empathetic_dialogues": _S("facebook/empathetic_dialogues", templates=("{prompt}", "{context}"),
                               revision=_PARQUET),  # parquet
    "ethos": _S("iamollas/ethos", revision=_PARQUET, data_dir="multilabel"),  # parquet
    "financial_phrasebank": _S("takala/financial_phrasebank", templates=("{sentence}",), revision=_PARQUET,
                               data_dir="sentences_allagree",
                               archive=FINANCIAL_PHRASEBANK_ALLAGREE),  # parquet, archive
    "freebase_qa": _S("community-datasets/freebase_qa", templates=("{RawQuestion}",)),
    "gigaword": _S("Harvard/gigaword", templates=("summarize: {document}",), archive=GIGAWORD_TRAIN),  # archive
    "glue_cola": _S("nyu-mll/glue", "cola", templates=("{sentence}",)),
    "glue_mnli": _S("nyu-mll/glue", "mnli", templates=_PAIR_NLI),
    "glue_mrpc": _S("nyu-mll/glue", "mrpc", templates=_PAIR_S12),
    "glue_qnli": _S("nyu-mll/glue", "qnli", templates=("question: {question}", "sentence: {sentence}")),
    "glue_qqp": _S("nyu-mll/glue", "qqp", templates=("question 1: {question1}", "question 2: {question2}")),
    "glue_rte": _S("nyu-mll/glue", "rte", templates=_PAIR_S12),
    "glue_sst2": _S("nyu-mll/glue", "sst2", templates=("sentence: {sentence}",)),
    "glue_wnli": _S("nyu-mll/glue", "wnli", templates=_PAIR_S12),
    "google_wellformed_query": _S("tasksource/google_wellformed_query", templates=("{content}",)),  # mirror
    "hate_speech18": _S("tasksource/hate_speech18"),  # mirror (odegiber/hate_speech18)
    "hate_speech_offensive": _S("tdavidson/hate_speech_offensive", templates=("{tweet}",)),
    "hatexplain": _S("Hate-speech-CNERG/hatexplain", templates=("{post_tokens}",), revision=_PARQUET,
                     data_dir="plain_text"),  # parquet
    "health_fact": _S("marcov/health_fact_promptsource", templates=("{claim}",)),  # mirror
    "hellaswag": _S("Rowan/hellaswag", templates=("{ctx}",)),
    "hotpot_qa": _S("hotpotqa/hotpot_qa", "distractor", templates=("question: {question}",)),
    "imdb": _S("stanfordnlp/imdb"),
    "jeopardy": _S("openaccess-ai-collective/jeopardy", templates=("question: {question}", "category: {category}")),
    "kilt_ay2": _S("facebook/kilt_tasks", "aidayago2", templates=("{input}",)),
    "kilt_fever": _S("facebook/kilt_tasks", "fever", templates=("{input}",)),
    "kilt_hotpotqa": _S("facebook/kilt_tasks", "hotpotqa", templates=("{input}",)),
    "kilt_nq": _S("facebook/kilt_tasks", "nq", templates=("{input}",)),
    "kilt_trex": _S("facebook/kilt_tasks", "trex", templates=("{input}",)),
    "kilt_wow": _S("facebook/kilt_tasks", "wow", templates=("{input}",)),
    "kilt_zsre": _S("facebook/kilt_tasks", "structured_zeroshot", templates=("{input}",)),
    "lama": _S("facebook/lama", templates=("{masked_sentence}",), revision=_PARQUET, data_dir="squad"),  # parquet
    "liar": _S("ucsbnlp/liar", templates=("statement: {statement}", "speaker: {speaker}")),
    "limit": _S("ibm/limit", templates=("{sentence}",)),
    "math_qa": _S("regisss/math_qa", templates=("{Problem}",)),  # mirror (allenai/math_qa), fields checked
    "mc_taco": _S("CogComp/mc_taco", split="validation", templates=("{sentence}", "{question}")),
    "medical_questions_pairs": _S("curaihealth/medical_questions_pairs", templates=("question 1: {question_1}", "question 2: {question_2}")),
    "mocha": _S("allenai/mocha", templates=("question: {question}", "context: {context}")),
    "multi_news": _S("alexfabbri/multi_news", templates=("summarize: {document}",)),
    "numer_sense": _S("tasksource/numer_sense", templates=("{sentence}",)),  # mirror (INK-USC/numer_sense)
    "onestop_english": _S("iastate/onestop_english"),
    "openbookqa": _S("allenai/openbookqa", "main", templates=("{question_stem}",)),
    "paws": _S("google-research-datasets/paws", "labeled_final", templates=_PAIR_S12),
    "piqa": _S("baber/piqa", templates=("goal: {goal}", "solution 1: {sol1}")),  # mirror (ybisk/piqa), fields checked
    "poem_sentiment": _S("google-research-datasets/poem_sentiment", templates=("{verse_text}",)),
    # moved: the reference downloaded ProtoQA's train.jsonl from github (iesl/protoqa-data); the hub's copy of it
    # names the field "normalized-question" (iesl/protoqa does not exist on the hub).
    "proto_qa": _S("community-datasets/proto_qa", "proto_qa", templates=("{normalized-question}",)),
    "qa_srl": _S("luheng/qa_srl", templates=("question: {question} context: {sentence}",),
                 revision=_PARQUET),  # parquet
    "qasc": _S("allenai/qasc", templates=("{question}",)),
    "quail": _S("textmachinelab/quail", templates=("{question}", "{context}")),
    "quarel": _S("community-datasets/quarel", templates=("{question}",)),  # moved
    "quartz": _S("allenai/quartz", templates=("{question} {para}",)),
    "quoref": _S("allenai/quoref", templates=("question: {question} context: {context}",)),
    "race": _S("ehovy/race", "middle", templates=("{question}", "{article}")),
    "reddit_tifu": _S("ctr4si/reddit_tifu", templates=("summarize: {documents}",), revision=_PARQUET,
                      data_dir="long"),  # parquet
    "ropes": _S("allenai/ropes", templates=("question: {question}", "situation: {situation}")),
    "rotten_tomatoes": _S("cornell-movie-review-data/rotten_tomatoes"),
    "samsum": _S("knkarthick/samsum", templates=("summarize: {dialogue}",)),  # moved (Samsung/samsum is gone)
    "scicite": _S("allenai/scicite", templates=("{string}",), revision=_PARQUET),  # parquet
    "sciq": _S("allenai/sciq", templates=("{question}", "{support}")),
    "scitail": _S("allenai/scitail", "snli_format", templates=_PAIR_S12),
    "search_qa": _S("kyunghyuncho/search_qa", "train_test_val",
                    templates=("question: {question} category: {category}",), archive=SEARCH_QA_TRAIN),  # archive
    "sick": _S("RobZamp/sick", templates=("sentence 1: {sentence_A}", "sentence 2: {sentence_B}")),
    "sms_spam": _S("ucirvine/sms_spam", templates=("{sms}",)),
    "social_i_qa": _S("lighteval/siqa", templates=("{question}", "{context}")),  # mirror, fields checked
    "spider": _S("xlangai/spider", templates=("{question}",)),
    "squad": _S("rajpurkar/squad", templates=("question: {question} context: {context}",)),
    "superglue_cb": _S("aps/super_glue", "cb", templates=_PAIR_NLI),
    "superglue_copa": _S("aps/super_glue", "copa", templates=("{premise}",)),
    "superglue_multirc": _S("aps/super_glue", "multirc", templates=("question: {question} context: {paragraph}",)),
    "superglue_record": _S("aps/super_glue", "record", templates=("question: {query} context: {passage}",)),
    "superglue_rte": _S("aps/super_glue", "rte", templates=_PAIR_NLI),
    "superglue_wic": _S("aps/super_glue", "wic", templates=("word: {word}", "sentence 1: {sentence1}")),
    "superglue_wsc": _S("aps/super_glue", "wsc.fixed", templates=("text: {text}", "span1_text: {span1_text}")),
    "swag": _S("allenai/swag", "regular", templates=("{startphrase}",)),
    "tab_fact": _S("wenhu/tab_fact", templates=("statement: {statement}", "table_caption: {table_caption}"),
                   revision=_PARQUET, data_dir="tab_fact"),  # parquet
    "trec": _S("CogComp/trec", revision=_PARQUET),  # parquet
    "tweet_eval": _S("cardiffnlp/tweet_eval", "emotion"),
    "tweet_qa": _S("ucsbnlp/tweet_qa", templates=("question: {Question} context: {Tweet}",)),
    "web_questions": _S("stanfordnlp/web_questions", templates=("{question}",)),
    "wiki_bio": _S("michaelauli/wiki_bio", templates=("{input_text[context]}",), archive=WIKI_BIO_TRAIN),  # archive
    "wiki_qa": _S("microsoft/wiki_qa", templates=("question: {question}", "answer: {answer}")),
    "wiki_split": _S("google-research-datasets/wiki_split", templates=("sentence 1: {simple_sentence_1}", "sentence 2: {simple_sentence_2}")),
    "wikisql": _S("Salesforce/wikisql", templates=("{question}",), revision=_PARQUET),  # parquet
    "winogrande": _S("allenai/winogrande", "winogrande_xl", templates=("{sentence} (A) {option1} (B) {option2}",)),
    # parquet: the mirror tasksource/wiqa was never seen to hold question_para_step; the original's branch has it.
    "wiqa": _S("allenai/wiqa", templates=("{question_stem}", "{question_para_step}"), revision=_PARQUET),
    "xsum": _S("EdinburghNLP/xsum", templates=("summarize: {document}",), revision=_PARQUET),  # parquet
    "yahoo_answers_topics": _S("community-datasets/yahoo_answers_topics", templates=("question_title: {question_title}", "question_content: {question_content}")),
    "yelp_polarity": _S("fancyzhx/yelp_polarity"),
    "yelp_review_full": _S("Yelp/yelp_review_full"),
}

# Transfer experiments: the reference's `get_exclude_read_list_transfer()` (the CR/QA
# targets present in the pool) plus two targets the reference forgot, so their
# training text leaked into x' (docs/method.md section 8).
# Transfer targets (configs/datasets.yaml) that are not in the pool, so nothing to exclude: wnli/mrpc/...
# are glue_*; stsb, snli, medqa, squad_v2 and the MultiQA sets have no pool entry.
EXCLUDE_FOR_TRANSFER: tuple[str, ...] = (
    "glue_cola",
    "glue_mnli",
    "glue_mrpc",
    "glue_qnli",
    "glue_qqp",
    "glue_rte",
    "glue_sst2",
    "glue_wnli",
    "scitail",
    "squad",
    "hotpot_qa",
    "duorc",
    "boolq",
    "financial_phrasebank",
    "medical_questions_pairs",
)

# LLM prompt selection: the reference's `get_exclude_read_list_llm()` per task type.
# (Its "mcqa" entry, for a task type this project does not cover, is left out.)
# wanli is an NLI test set but is not in the pool, so it needs no entry.
EXCLUDE_FOR_LLM: dict[str, tuple[str, ...]] = {
    "sa": ("glue_sst2", "imdb", "rotten_tomatoes"),
    "nli": ("superglue_cb", "anli"),
}

# The LLM evaluation sets (configs/datasets.yaml) -> their pool name (None: not in the pool).
LLM_EVAL_SETS_IN_POOL: dict[str, dict[str, str | None]] = {
    "sa": {"sst2": "glue_sst2", "imdb": "imdb", "rotten_tomatoes": "rotten_tomatoes"},
    "nli": {"cb": "superglue_cb", "anli": "anli", "wanli": None},
}
