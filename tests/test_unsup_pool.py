"""Tests for the unsupervised pool U and the x' files (data_utils/unsup_pool.py)."""
import json
import logging
import random
from string import Formatter

import datasets
import numpy as np
import pytest

from configs.unsup_pool import EXCLUDE_FOR_LLM, EXCLUDE_FOR_TRANSFER, LLM_EVAL_SETS_IN_POOL, POOL_SOURCES
from fake_hub import template_rows, tiny_archive
from data_utils import unsup_pool
from data_utils.artifacts.model_inputs import write_model_inputs
from data_utils.errors import FuteError
from data_utils.pool_inputs import build_inputs, select_model_inputs, split_for_nli
from data_utils.unsup_pool import (
    PoolExample,
    check_failures_per_exclusion,
    drop_excluded_sources,
    check_pool_failures,
    load_hub_pool,
    load_pool,
    pool_record,
    pool_names,
    read_local_pool,
    sample_per_source,
    write_local_pool,
)

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

ROWS = 40


def _is_empty_row(i: int) -> bool:
    return i % 7 == 3  # rows the loader must skip


def _fake_loader(source):
    """A small in-memory dataset with every column the test names' templates read."""
    tag = f"{source.hub_id}/{source.config}"
    column = [("" if _is_empty_row(i) else f"{tag} row {i}") for i in range(ROWS)]
    return datasets.Dataset.from_dict({
        "sentence": column, "sentence1": column, "sentence2": [f"second {i}" for i in range(ROWS)],
        "text": column, "sentence_A": column, "sentence_B": [f"B {i}" for i in range(ROWS)],
    })


def _failing_imdb_loader(source):
    if source.hub_id == "stanfordnlp/imdb":
        raise ConnectionError("hub unreachable")
    return _fake_loader(source)


def _always_failing_loader(source):
    raise ConnectionError("hub unreachable")


class _SpyDataset:
    """Counts rows handed out, to check that rows are read by index blocks only."""

    def __init__(self, n):
        self.n, self.selected = n, []

    def __len__(self):
        return self.n

    def select(self, indices):
        self.selected.append(list(indices))
        return [{"text": f"row {i}"} for i in indices]


def _write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


class _WordTokenizer:
    """Whitespace 'tokenizer': one token per word, so budgets can be counted by hand."""

    def encode(self, text, add_special_tokens=False):
        return text.split()

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(ids)


# ---------------------------------------------------------------------------
# local pool
# ---------------------------------------------------------------------------

def test_read_local_pool_fields_and_default_source(tmp_path):
    path = _write_lines(tmp_path / "mypool.jsonl", [
        json.dumps({"text": "a", "text_pair": "b", "source": "s1"}),
        "",
        json.dumps({"text": "c"}),
        json.dumps({"text": "d", "text_pair": ""}),
    ])
    got, failed = read_local_pool(path)
    assert failed == {}
    assert got == [
        PoolExample("c", None, "mypool"),
        PoolExample("d", None, "mypool"),
        PoolExample("a", "b", "s1"),
    ]


def test_write_local_pool_is_read_back_unchanged(tmp_path):
    examples = [PoolExample("a", None, "s1"), PoolExample("q?", "a context", "s1"), PoolExample("b", None, "s2")]
    path = tmp_path / "pool.jsonl"
    assert write_local_pool(path, examples) == 3
    assert read_local_pool(path) == (examples, {})
    assert json.loads(path.read_text().splitlines()[0]) == {"text": "a", "source": "s1"}  # no text_pair key
    with pytest.raises(FuteError, match="no pool examples"):
        write_local_pool(tmp_path / "empty.jsonl", [])
    assert not (tmp_path / "empty.jsonl").exists()


def test_read_local_pool_folder_reads_every_file(tmp_path):
    _write_lines(tmp_path / "b.jsonl", [json.dumps({"text": "from b"})])
    _write_lines(tmp_path / "a.jsonl", [json.dumps({"text": "from a"})])
    assert [(e.text, e.source) for e in read_local_pool(tmp_path)[0]] == [("from a", "a"), ("from b", "b")]


def test_a_pool_folder_records_the_files_it_cannot_read(tmp_path, caplog):
    _write_lines(tmp_path / "a.jsonl", [json.dumps({"text": "from a"})])
    _write_lines(tmp_path / "broken.jsonl", [json.dumps({"text": "ok"}), "{not json"])
    with caplog.at_level(logging.WARNING, logger="data_utils.unsup_pool"):
        examples, failed = read_local_pool(tmp_path)
    assert [e.source for e in examples] == ["a"]
    assert list(failed) == ["broken.jsonl"] and "broken.jsonl:2" in failed["broken.jsonl"]
    assert "pool file broken.jsonl left out" in caplog.text
    assert pool_record(examples, failed, 7) == {"sources": {"a": 1}, "failed": failed, "seed": 7}


def test_more_than_a_tenth_of_the_sources_failing_stops_unless_allowed():
    failed = {"x": "OSError: gone", "y": "DatasetNotFoundError: no such repo"}
    check_pool_failures(failed, total=20, allow_partial=False)  # 10%: still fine
    with pytest.raises(FuteError, match=r"2 of 19 pool sources could not be read \(x, y\).*--allow_partial_pool True"):
        check_pool_failures(failed, total=19, allow_partial=False)
    check_pool_failures(failed, total=19, allow_partial=True)


def test_a_pool_loaded_once_bounds_the_failures_among_the_sources_each_run_reads():
    """A transfer run reads the pool minus its 15 targets; an sa run minus 3 sets. A failed source counts only for
    the runs that read it, over the number those runs read."""
    transfer_reads = [name for name in POOL_SOURCES if name not in EXCLUDE_FOR_TRANSFER]
    assert len(transfer_reads) == 107 and 0.1 * 107 < 11 < 0.1 * 122
    # 11 failures, all read by transfer runs: 9.0% of the pool, 10.3% of what a transfer run reads.
    failed = {name: "OSError: gone" for name in transfer_reads[:11]}
    check_failures_per_exclusion(failed, ["sa", "nli"], allow_partial=False)  # 11 of 119, of 120: fine
    with pytest.raises(FuteError, match=r"11 of 107 pool sources could not be read"):
        check_failures_per_exclusion(failed, ["sa", "transfer"], allow_partial=False)
    check_failures_per_exclusion(failed, ["transfer"], allow_partial=True)
    # 13 failures, 3 of them transfer targets that a transfer run leaves out anyway: 10 of 107 is fine there.
    failed = {**{name: "OSError: gone" for name in transfer_reads[:10]},
              **{name: "OSError: gone" for name in EXCLUDE_FOR_TRANSFER[:3]}}
    check_failures_per_exclusion(failed, ["transfer"], allow_partial=False)
    with pytest.raises(FuteError, match=r"13 of 122 pool sources"):
        check_failures_per_exclusion(failed, ["none"], allow_partial=False)


def test_read_local_pool_malformed_line_names_file_and_line(tmp_path):
    path = _write_lines(tmp_path / "p.jsonl", [json.dumps({"text": "ok"}), "", "{not json"])
    with pytest.raises(FuteError, match=r"p\.jsonl:3"):
        read_local_pool(path)


@pytest.mark.parametrize("record", [{"text_pair": "x"}, {"text": "  "}, {"text": 5}])
def test_read_local_pool_missing_text_names_line(tmp_path, record):
    path = _write_lines(tmp_path / "p.jsonl", [json.dumps({"text": "ok"}), json.dumps(record)])
    with pytest.raises(FuteError, match=r"p\.jsonl:2: missing or empty 'text'"):
        read_local_pool(path)


def test_read_local_pool_missing_path(tmp_path):
    with pytest.raises(FuteError, match="not found"):
        read_local_pool(tmp_path / "absent.jsonl")


# ---------------------------------------------------------------------------
# per-source cap
# ---------------------------------------------------------------------------

def _pool(sizes):
    return [PoolExample(f"{source} {i}", None, source) for source, n in sizes.items() for i in range(n)]


def test_sample_per_source_caps_and_orders():
    examples = _pool({"b": 30, "a": 3})
    got = sample_per_source(examples, max_per_source=5, seed=1)
    assert [e.source for e in got] == ["a"] * 3 + ["b"] * 5
    assert [e.text for e in got[:3]] == ["a 0", "a 1", "a 2"]  # small source kept whole
    b_positions = [int(e.text.split()[1]) for e in got[3:]]
    assert b_positions == sorted(b_positions) and len(set(b_positions)) == 5


def test_sample_per_source_is_seeded():
    examples = _pool({"a": 50})
    first = sample_per_source(examples, 5, seed=1)
    assert sample_per_source(examples, 5, seed=1) == first
    assert sample_per_source(examples, 5, seed=2) != first


def test_sample_per_source_does_not_depend_on_other_sources():
    alone = sample_per_source(_pool({"a": 50}), 5, seed=3)
    with_other = sample_per_source(_pool({"z": 20, "a": 50}), 5, seed=3)
    assert [e for e in with_other if e.source == "a"] == alone


# ---------------------------------------------------------------------------
# hub pool (fake loaders, no network)
# ---------------------------------------------------------------------------

NAMES = ["imdb", "glue_mrpc", "sick", "glue_cola"]


def test_load_hub_pool_sample_matches_seeded_permutation():
    got, failed = load_hub_pool(NAMES, max_per_source=10, seed=7, loader=_fake_loader)
    assert failed == {}
    assert [e.source for e in got] == [n for n in sorted(NAMES) for _ in range(10)]
    # Independent computation: the first 10 non-empty rows of the seeded permutation.
    perm = np.random.default_rng(7).permutation(ROWS)
    expected_rows = sorted([int(i) for i in perm if not _is_empty_row(int(i))][:10])
    cola = [e for e in got if e.source == "glue_cola"]
    assert [e.text for e in cola] == [f"nyu-mll/glue/cola row {i}" for i in expected_rows]
    assert all(e.text_pair is None for e in cola)
    mrpc = [e for e in got if e.source == "glue_mrpc"]
    assert mrpc[0].text == f"sentence 1: nyu-mll/glue/mrpc row {expected_rows[0]}"
    assert mrpc[0].text_pair == f"sentence 2: second {expected_rows[0]}"


def test_load_hub_pool_independent_of_process_count():
    one, _ = load_hub_pool(NAMES, max_per_source=6, seed=42, num_processes=1, loader=_fake_loader)
    two, _ = load_hub_pool(list(reversed(NAMES)), max_per_source=6, seed=42, num_processes=2, loader=_fake_loader)
    assert one == two and len(one) == 24


def test_load_hub_pool_reads_by_index_blocks():
    spy = _SpyDataset(100_000)
    got, _ = load_hub_pool(["imdb"], max_per_source=8, seed=0, loader=lambda source: spy)
    assert len(got) == 8
    assert [len(block) for block in spy.selected] == [8]  # one block of 8 rows, never the whole set


def test_load_hub_pool_skips_a_failing_dataset(caplog):
    with caplog.at_level(logging.WARNING, logger="data_utils.unsup_pool"):
        got, failed = load_hub_pool(NAMES, max_per_source=4, seed=0, loader=_failing_imdb_loader)
    assert sorted({e.source for e in got}) == ["glue_cola", "glue_mrpc", "sick"]
    assert list(failed) == ["imdb"] and "hub unreachable" in failed["imdb"] and "\n" not in failed["imdb"]
    assert pool_record(got, failed, 0)["sources"] == {"glue_cola": 4, "glue_mrpc": 4, "sick": 4}
    assert any("imdb" in r.getMessage() and "hub unreachable" in r.getMessage() for r in caplog.records)


def test_load_hub_pool_all_failing_is_an_error():
    with pytest.raises(FuteError, match="no pool dataset could be loaded"):
        load_hub_pool(["imdb", "glue_cola"], 4, 0, loader=_always_failing_loader)


def test_load_hub_pool_unknown_name():
    with pytest.raises(FuteError, match="POOL_SOURCES"):
        load_hub_pool(["imdb", "not_a_dataset"], 4, 0, loader=_fake_loader)


PARQUET = "refs/convert/parquet"
# How the hub serves the sources the checks of 2025-26 corrected (written out here, not read from the table):
# (hub id, config, split, revision, data_dir). On the parquet branch a config is a folder, chosen by data_dir.
CORRECTED_READS = {
    "ethos": ("iamollas/ethos", None, "train", PARQUET, "multilabel"),
    "reddit_tifu": ("ctr4si/reddit_tifu", None, "train", PARQUET, "long"),
    "financial_phrasebank": ("takala/financial_phrasebank", None, "train", PARQUET, "sentences_allagree"),
    "tab_fact": ("wenhu/tab_fact", None, "train", PARQUET, "tab_fact"),
    "lama": ("facebook/lama", None, "train", PARQUET, "squad"),
    "biomrc": ("nlpaueb/biomrc", None, "train", PARQUET, "biomrc_large_B"),
    "dream": ("dataset-org/dream", None, "train", PARQUET, "plain_text"),
    "hatexplain": ("Hate-speech-CNERG/hatexplain", None, "train", PARQUET, "plain_text"),
    "wiqa": ("allenai/wiqa", None, "train", PARQUET, None),
    "trec": ("CogComp/trec", None, "train", PARQUET, None),
    "proto_qa": ("community-datasets/proto_qa", "proto_qa", "train", None, None),
    "crows_pairs": ("jannalu/crows_pairs_multilingual", "english", "test", None, None),
    "emo": ("oneonlee/cleansed_emocontext", None, "train", None, None),
    "glue_rte": ("nyu-mll/glue", "rte", "train", None, None),
}


@pytest.fixture
def recording_hub(monkeypatch):
    """`datasets.load_dataset` as a hub serving every pool source two rows; records each call's arguments."""
    calls = []

    def load_dataset(path, name=None, split=None, revision=None, data_dir=None, streaming=False):
        calls.append((path, name, split, revision, data_dir))
        source = next(s for s in POOL_SOURCES.values() if (s.hub_id, s.config, s.data_dir) == (path, name, data_dir))
        return datasets.Dataset.from_list(template_rows(source, [f"{path} a", f"{path} b"]))

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_every_source_is_read_with_the_config_revision_and_folder_of_its_entry(recording_hub):
    for name, source in POOL_SOURCES.items():
        got, failed = load_hub_pool([name], max_per_source=5, seed=0)
        assert failed == {} and len(got) == 2, name
        assert recording_hub[-1] == (source.hub_id, source.config, source.split, source.revision, source.data_dir)
        # The parquet branch has no config names ("BuilderConfig ... not found"): its folder is the config.
        assert not (source.revision == PARQUET and source.config), name
    reads = dict(zip(POOL_SOURCES, recording_hub))
    assert {name: reads[name] for name in CORRECTED_READS} == CORRECTED_READS


def test_fields_of_the_corrected_sources_render(recording_hub, monkeypatch):
    rows = {"oneonlee/cleansed_emocontext": {"turn1": "hi there", "turn2": "", "turn3": "how are you", "label": 1},
            "community-datasets/proto_qa": {"normalized-question": "name something in a kitchen", "question": "x"}}
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, split=None, revision=None, data_dir=None,
                        streaming=False: datasets.Dataset.from_list([rows[path]]))
    got, _ = load_hub_pool(["emo", "proto_qa"], max_per_source=5, seed=0)
    assert [(e.source, e.text) for e in got] == [("emo", "hi there how are you"),
                                                 ("proto_qa", "name something in a kitchen")]


def _script_only(path, name=None, split=None, revision=None, data_dir=None, streaming=False):
    raise RuntimeError(f"Dataset scripts are no longer supported, but found {path.split('/')[1]}.py")


# What the reference made of each row the loading script yielded (CrossFit's templates, written out here).
ARCHIVE_SOURCES = {
    "gigaword": lambda row: ("summarize: " + row["document"], None),
    "search_qa": lambda row: (f"question: {row['question']} category: {row['category']}", None),
    "wiki_bio": lambda row: (row["input_text"]["context"], None),
    "financial_phrasebank": lambda row: (row["sentence"], None),
}


@pytest.mark.parametrize("name", sorted(ARCHIVE_SOURCES))
def test_a_script_only_source_is_read_from_the_archive_its_repository_publishes(name, tmp_path, monkeypatch):
    import huggingface_hub

    source, downloads = POOL_SOURCES[name], []
    path, rows = tiny_archive(source.hub_id, source.archive.file, tmp_path, rows=23)

    def download(repo_id, filename, repo_type=None):
        downloads.append((repo_id, filename, repo_type))
        return str(path)

    monkeypatch.setattr(datasets, "load_dataset", _script_only)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    got, failed = load_hub_pool([name], max_per_source=6, seed=3)
    assert failed == {} and downloads == [(source.hub_id, source.archive.file, "dataset")]
    chosen = sorted(int(i) for i in np.random.default_rng(3).permutation(23)[:6])  # every row renders: no skips
    assert [(e.text, e.text_pair) for e in got] == [ARCHIVE_SOURCES[name](rows[i]) for i in chosen]


def test_a_source_whose_archive_cannot_be_downloaded_either_records_both_reasons(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to the hub\nretry later")

    monkeypatch.setattr(datasets, "load_dataset", _script_only)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(FuteError, match="no pool dataset could be loaded"):
        load_hub_pool(["gigaword", "trec"], max_per_source=2, seed=0)
    _, _, error = unsup_pool._load_one("gigaword", 2, 0, unsup_pool._hub_loader)
    assert error == ("RuntimeError: Dataset scripts are no longer supported, but found gigaword.py; cannot download "
                     "data/ggw_data.zip of Harvard/gigaword either (OSError: We couldn't connect to the hub)")
    _, _, error = unsup_pool._load_one("trec", 2, 0, unsup_pool._hub_loader)
    assert error == "RuntimeError: Dataset scripts are no longer supported, but found trec.py"  # no archive to try


def test_row_rendering_drops_empty_segments_and_joins_lists():
    row = {"title": "", "content": "line one\nline  two", "tokens": ["a", "b"]}
    got = unsup_pool._example_from_row(row, ("title: {title}", "content: {content}"), "x")
    assert got == PoolExample("content: line one line two", None, "x")
    assert unsup_pool._example_from_row(row, ("{tokens}",), "x").text == "a b"
    assert unsup_pool._example_from_row({"text": None}, ("{text}",), "x") is None


# ---------------------------------------------------------------------------
# exclusion lists and the table
# ---------------------------------------------------------------------------

def test_llm_eval_sets_are_excluded_where_in_pool():
    for task_type, sets in LLM_EVAL_SETS_IN_POOL.items():
        names = pool_names(task_type)
        for eval_set, pool_name in sets.items():
            if pool_name is None:  # wanli: not a pool dataset at all
                assert not any(eval_set in name for name in POOL_SOURCES)
                continue
            assert pool_name in POOL_SOURCES and pool_name in EXCLUDE_FOR_LLM[task_type]
            assert pool_name not in names
    assert {"glue_sst2", "imdb", "rotten_tomatoes"} <= set(EXCLUDE_FOR_LLM["sa"])
    assert {"superglue_cb", "anli"} <= set(EXCLUDE_FOR_LLM["nli"])


def test_transfer_exclusion_includes_the_leaked_datasets():
    names = pool_names("transfer")
    for leaked in ("financial_phrasebank", "medical_questions_pairs"):
        assert leaked in EXCLUDE_FOR_TRANSFER and leaked not in names
    assert "glue_cola" not in names and "squad" not in names and "agnews" in names
    assert len(names) == len(POOL_SOURCES) - len(EXCLUDE_FOR_TRANSFER)


def test_crossfit_topic_sources_are_the_registrys_topic_datasets():
    """CrossFit's agnews reads the repository of the registry's ag_news under another name: a target all the same."""
    from data_utils.pool_targets import targets_among

    sources = ["agnews", "yahoo_answers_topics", "amazon_polarity", "glue_sst2"]
    assert targets_among(sources, ["ag_news", "yahoo_answers_topics"]) == {
        "agnews": "ag_news", "yahoo_answers_topics": "yahoo_answers_topics"}
    assert targets_among(sources, ["sst2"]) == {"glue_sst2": "sst2"}


def test_local_pool_exclusions_match_the_hub_lists_by_source(caplog):
    examples = [PoolExample(f"{source} {i}", None, source) for source in
                ("glue_sst2", "imdb", "superglue_cb", "glue_mrpc", "agnews", "my_own_texts") for i in range(2)]
    kept = {exclude: {e.source for e in drop_excluded_sources(examples, exclude)}
            for exclude in ("sa", "nli", "transfer", "none")}
    assert kept["sa"] == {"superglue_cb", "glue_mrpc", "agnews", "my_own_texts"}
    assert kept["nli"] == {"glue_sst2", "imdb", "glue_mrpc", "agnews", "my_own_texts"}
    assert kept["transfer"] == {"imdb", "superglue_cb", "agnews", "my_own_texts"}  # glue_sst2, glue_mrpc: targets
    assert kept["none"] == {e.source for e in examples}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="data_utils.unsup_pool"):
        drop_excluded_sources(examples, "sa")
    assert "dropped 4 local examples of excluded source(s) glue_sst2, imdb" in caplog.text


@pytest.mark.parametrize("seed", [42, 7])
def test_a_run_reads_the_pool_minus_its_exclusions_capped_per_source_and_shuffled_once(tmp_path, monkeypatch, seed):
    """load_pool, for a local pool and the hub alike: the exclusion list by source, at most N per source (each
    source sampled with its own Random(seed)), shuffled once with Random(seed), and the record of what was used.
    At seed 42 (every script's default) this is the reference's fixed draw; another seed draws other x'."""
    local = tmp_path / "pool.jsonl"
    write_local_pool(local, [PoolExample(f"{source} {i}", None, source) for source in ("glue_sst2", "imdb", "agnews")
                             for i in range(8)])
    examples, record = load_pool("transfer", 3, seed, local)

    def drawn(seed: int) -> list[str]:
        kept = {source: sorted(random.Random(seed).sample(range(8), 3)) for source in ("agnews", "imdb")}
        texts = [f"{source} {i}" for source in ("agnews", "imdb") for i in kept[source]]
        random.Random(seed).shuffle(texts)
        return texts

    assert [e.text for e in examples] == drawn(seed) != drawn(42 if seed != 42 else 7)
    assert [e.text for e in load_pool("transfer", 3, seed, local)[0]] == drawn(seed)  # the same seed, the same x'
    assert record == {"sources": {"agnews": 3, "imdb": 3}, "failed": {}, "seed": seed}
    write_local_pool(tmp_path / "sst2.jsonl", [PoolExample("x", None, "glue_sst2")])
    with pytest.raises(FuteError, match="every example of --unsup_data_path .* excluded for 'sa'"):
        load_pool("sa", 3, seed, tmp_path / "sst2.jsonl")
    # The hub: the names the exclusion leaves, and the failures counted over those names.
    asked = []
    failed = {name: "OSError: gone" for name in pool_names("sa")[:12]}
    monkeypatch.setattr(unsup_pool, "load_hub_pool", lambda names, n, seed, processes: asked.append(
        (names, n, seed, processes)) or ([PoolExample("a", None, "agnews")], failed))
    with pytest.raises(FuteError, match=f"12 of {len(pool_names('sa'))} pool sources"):
        load_pool("sa", 2, seed, processes=3)
    assert asked == [(pool_names("sa"), 2, seed, 3)]
    assert load_pool("sa", 2, seed, allow_partial=True)[1]["failed"] == failed


def test_pool_names_none_and_bad_value():
    assert pool_names("none") == sorted(POOL_SOURCES)
    assert "glue_sst2" in pool_names("nli") and "glue_sst2" not in pool_names("sa")
    with pytest.raises(FuteError, match="transfer, sa, nli, none"):
        pool_names("mcqa")


def test_table_entries_are_well_formed():
    assert len(POOL_SOURCES) == 122
    for name, source in POOL_SOURCES.items():
        assert 1 <= len(source.templates) <= 2, name
        assert source.hub_id and source.split, name
        for template in source.templates:
            fields = [field for _, field, _, _ in Formatter().parse(template) if field is not None]
            assert fields and all(fields), (name, template)
    for name in [*EXCLUDE_FOR_TRANSFER, *(n for names in EXCLUDE_FOR_LLM.values() for n in names)]:
        assert name in POOL_SOURCES, name
    # A source read from an archive with named fields reads only those ("{a[b]}" is the dotted field "a.b").
    for name, source in POOL_SOURCES.items():
        if source.archive is not None and source.archive.fields:
            for template in source.templates:
                for _, field, _, _ in Formatter().parse(template):
                    if field:
                        assert field.replace("[", ".").rstrip("]") in source.archive.fields, (name, field)


# ---------------------------------------------------------------------------
# x' construction
# ---------------------------------------------------------------------------

SINGLE = PoolExample("only text", None, "s")
PAIR = PoolExample("first", "second", "s")


def test_build_inputs_cr_and_qa():
    assert build_inputs([SINGLE, PAIR], "cr") == [{"text": "only text"}, {"text": "second"}]
    assert build_inputs([SINGLE, PAIR], "cr", cr_is_pair=True) == [
        {"text": "only text", "text_pair": ""}, {"text": "first", "text_pair": "second"}]
    assert build_inputs([SINGLE, PAIR], "qa") == build_inputs([SINGLE, PAIR], "cr", cr_is_pair=True)


def test_build_inputs_sa_and_nli_pair():
    assert build_inputs([SINGLE, PAIR], "sa") == [{"content": "only text"}, {"content": "second"}]
    assert build_inputs([PAIR], "nli") == [{"premise": "first", "hypothesis": "second"}]


def test_nli_split_of_a_single_text():
    # no "premise:": cut at the middle character, len 10 -> 5
    assert split_for_nli("abcdefghij") == ("abcde", "fghij", 3)
    assert build_inputs([PoolExample("abcdefghij", None, "s")], "nli") == [{"premise": "abcde", "hypothesis": "fghij"}]
    # "premise:" and "hypothesis:" both present
    assert split_for_nli("premise: A cat. hypothesis: An animal.") == ("premise: A cat.", "hypothesis: An animal.", 1)
    # hypothesis first
    assert split_for_nli("hypothesis: H. Premise: P.") == ("Premise: P.", "hypothesis: H.", 1)
    # "premise:" only: cut at (0 + 7 + 20) // 2 = 13 of a 20-character text
    text = "premise: abcdefghijk"
    assert len(text) == 20
    assert split_for_nli(text) == ("premise: abcd", "efghijk", 1)


def test_unknown_task_type():
    with pytest.raises(FuteError, match="cr, qa, sa, nli"):
        build_inputs([SINGLE], "mcqa")


def test_tokenizer_budgets():
    tok = _WordTokenizer()
    long_text = " ".join(f"w{i}" for i in range(10))
    # sa: max_length 5 -> 4 tokens
    assert build_inputs([PoolExample(long_text, None, "s")], "sa", tokenizer=tok, max_length=5) == [
        {"content": "w0 w1 w2 w3"}]
    # nli: budget 8 - 2 = 6; sides 10 and 2 tokens -> each cut to max(3, 6 - 2) = 4
    got = build_inputs([PoolExample(long_text, "h0 h1", "s")], "nli", tokenizer=tok, max_length=8)
    assert got == [{"premise": "w0 w1 w2 w3", "hypothesis": "h0 h1"}]
    # within budget: untouched (spacing kept)
    assert build_inputs([PoolExample("a  b", None, "s")], "sa", tokenizer=tok) == [{"content": "a  b"}]


# ---------------------------------------------------------------------------
# writing x'
# ---------------------------------------------------------------------------

def test_write_model_inputs_sa_format(tmp_path):
    examples = [PoolExample(f"t{i}", None, "s") for i in range(6)] + [PAIR]
    path = tmp_path / "x.jsonl"
    assert write_model_inputs(path, select_model_inputs(examples, "sa")) == 7
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["data_index"] for line in lines] == list(range(7))
    assert all(set(line) == {"content", "data_index"} for line in lines)
    assert {line["content"] for line in lines} == {f"t{i}" for i in range(6)} | {"second"}


def test_write_model_inputs_keeps_the_given_order_under_the_cap(tmp_path):
    # The caller shuffled the pool once (as the reference); no second shuffle here.
    examples = [PoolExample(f"t{i}", None, "s") for i in (3, 0, 5, 1, 4, 2)]
    write_model_inputs(tmp_path / "x.jsonl", select_model_inputs(examples, "sa", seed=7))
    lines = [json.loads(line) for line in (tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines == [{"content": f"t{i}", "data_index": k} for k, i in enumerate((3, 0, 5, 1, 4, 2))]


def test_write_model_inputs_cap_keeps_reference_priority(tmp_path):
    marked = [PoolExample(f"premise: p{i}. hypothesis: h{i}.", None, "s") for i in range(3)]
    pairs = [PoolExample(f"pp{i}", f"hh{i}", "s") for i in range(4)]
    plain = [PoolExample(f"plain text {i}", None, "s") for i in range(5)]
    path = tmp_path / "nli.jsonl"
    assert write_model_inputs(path, select_model_inputs(plain + pairs + marked, "nli", max_lines=5, seed=3)) == 5
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    premises = [line["premise"] for line in lines]
    assert {f"premise: p{i}." for i in range(3)} <= set(premises)  # all kind-1 kept
    assert sum(p.startswith("pp") for p in premises) == 2  # then 2 of the natural pairs
    assert not any(p.startswith("plain") for p in premises)  # middle splits ranked last
    assert all(set(line) == {"premise", "hypothesis", "data_index"} for line in lines)
    # same seed, same file
    again = tmp_path / "again.jsonl"
    write_model_inputs(again, select_model_inputs(plain + pairs + marked, "nli", max_lines=5, seed=3))
    assert again.read_text() == path.read_text()


def test_write_model_inputs_replaces_a_file_whole(tmp_path):
    """Whether to replace is run_task_emb.py's decision (--overwrite, checked before any work); the write
    itself replaces the file atomically, never appends."""
    path = tmp_path / "x.jsonl"
    write_model_inputs(path, select_model_inputs([SINGLE, PAIR], "sa"))
    assert write_model_inputs(path, select_model_inputs([SINGLE], "sa")) == 1
    assert json.loads(path.read_text()) == {"content": "only text", "data_index": 0}


def test_select_model_inputs_empty_pool():
    with pytest.raises(FuteError, match="no pool examples"):
        select_model_inputs([], "sa")
