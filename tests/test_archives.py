"""Reading the source files that script-only hub repositories publish (data_utils/archives.py, configs/archives.py)."""
from __future__ import annotations

import zipfile
from contextlib import contextmanager

import pytest

from configs.archives import FINANCIAL_PHRASEBANK_ALLAGREE, GIGAWORD_TRAIN, SEARCH_QA_TRAIN, WIKI_BIO_TRAIN
from data_utils.declarations import DATASETS
from configs.unsup_pool import POOL_SOURCES
from data_utils.archives import LAYOUTS, open_archive
from data_utils.errors import FuteError
from fake_hub import gigaword_zip, search_qa_question, search_qa_zip, tiny_archive, wiki_bio_zip

REPOSITORIES = {  # the registry's archives and the repository each lives in
    FINANCIAL_PHRASEBANK_ALLAGREE: "takala/financial_phrasebank",
    GIGAWORD_TRAIN: "Harvard/gigaword",
    SEARCH_QA_TRAIN: "kyunghyuncho/search_qa",
    WIKI_BIO_TRAIN: "michaelauli/wiki_bio",
}


@pytest.mark.parametrize("archive", list(REPOSITORIES), ids=lambda archive: archive.layout + ":" + archive.file)
def test_each_archive_reads_the_rows_its_loading_script_yielded(tmp_path, archive):
    path, expected = tiny_archive(REPOSITORIES[archive], archive.file, tmp_path, rows=7)
    table = open_archive(archive, path)
    assert len(table) == 7 and table.to_list() == expected
    assert table.select([6, 0, 6]) == [expected[6], expected[0], expected[6]]  # the order given, repeats kept
    with pytest.raises(IndexError, match="row 7 of .* 7 rows"):
        table.select([7])


def test_gigaword_rows_pair_line_i_of_both_members(tmp_path):
    documents = ["a  <unk> document ", "", "third one"]  # an empty line is still a row: the members stay aligned
    expected = gigaword_zip(tmp_path / "ggw_data.zip", documents, ["h1", "h2", "h3 <unk>"])
    rows = open_archive(GIGAWORD_TRAIN, tmp_path / "ggw_data.zip").to_list()
    assert rows == expected == [{"document": "a  UNK document", "summary": "h1"}, {"document": "", "summary": "h2"},
                                {"document": "third one", "summary": "h3 UNK"}]


def test_search_qa_rows_follow_the_member_names_and_skip_what_is_not_a_question(tmp_path):
    questions = [search_qa_question(i, category=f"C{i}") for i in range(12)]
    search_qa_zip(tmp_path / "train.zip", questions)
    rows = open_archive(SEARCH_QA_TRAIN, tmp_path / "train.zip").to_list()
    assert len(rows) == 12  # readme.txt and the __MACOSX resource fork are not rows
    names = sorted([f"{i}.json" for i in range(1, 12, 2)] + [f"part/{i}.json" for i in range(0, 12, 2)])
    assert [row["question"] for row in rows] == [f"question {name.split('/')[-1][:-5]}" for name in names]


def test_wiki_bio_context_is_the_title_line_of_the_training_split(tmp_path):
    wiki_bio_zip(tmp_path / "wiki.zip", ["walter extra ", "aaron hohlbein"])
    assert open_archive(WIKI_BIO_TRAIN, tmp_path / "wiki.zip").to_list() == [
        {"input_text": {"context": "walter extra"}}, {"input_text": {"context": "aaron hohlbein"}}]


def test_a_one_member_archive_may_be_given_as_that_member(tmp_path):
    # Lines end where the script's open() ended them: byte 0x85 (U+0085, which str.splitlines would split at)
    # stays inside its sentence.
    lines = ["Caf\xe9 sales rose \x85 .@positive", "Mail us @ the office .@neutral", ""]
    member = tmp_path / "Sentences_AllAgree.txt"
    member.write_bytes("\n".join(lines).encode("latin-1"))
    assert open_archive(FINANCIAL_PHRASEBANK_ALLAGREE, member).to_list() == [
        {"sentence": "Caf\xe9 sales rose \x85 .", "label": "positive"},
        {"sentence": "Mail us @ the office .", "label": "neutral"}]
    with pytest.raises(FuteError, match="expected the published ggw_data.zip"):
        open_archive(GIGAWORD_TRAIN, member)


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("archive, members, message", [
    (GIGAWORD_TRAIN, {"org_data/train.src.txt": b"a\n"}, r"holds no org_data/train.tgt.txt; give the published "
                                                          r"ggw_data.zip$"),
    (GIGAWORD_TRAIN, {"org_data/train.src.txt": b"a\nb\n", "org_data/train.tgt.txt": b"h\n"},
     r"train.tgt.txt has fewer lines than org_data/train.src.txt \(2\); delete the archive"),
    (GIGAWORD_TRAIN, {"org_data/train.src.txt": b"caf\xe9\n", "org_data/train.tgt.txt": b"h\n"},
     r"train.src.txt: not utf-8 text"),
    (FINANCIAL_PHRASEBANK_ALLAGREE, {"FinancialPhraseBank-v1.0/Sentences_AllAgree.txt": b"Good .@positive\nno label\n"},
     r"Sentences_AllAgree.txt:2: not a '<sentence>@<label>' line"),
    (FINANCIAL_PHRASEBANK_ALLAGREE, {"other.txt": b""}, r"holds no FinancialPhraseBank-v1.0/Sentences_AllAgree.txt; "
                                                        r"give the published FinancialPhraseBank-v1.0.zip or "
                                                        r"Sentences_AllAgree.txt itself"),
    (SEARCH_QA_TRAIN, {"readme.txt": b""}, r"holds no .json member"),
    (SEARCH_QA_TRAIN, {"1.json": b"{not json"}, r"1.json: not JSON"),
    (SEARCH_QA_TRAIN, {"1.json": b"[1, 2]"}, r"1.json: a JSON list, not an object"),
])
def test_a_damaged_archive_is_a_one_line_error_naming_the_member(tmp_path, archive, members, message):
    path = _zip(tmp_path / "archive.zip", members)
    with pytest.raises(FuteError, match=message):
        open_archive(archive, path).to_list()


def test_a_file_that_is_not_a_zip_says_to_download_it_again(tmp_path):
    broken = tmp_path / "ggw_data.zip"
    broken.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(FuteError, match="not a readable zip archive .*delete it to download it again"):
        open_archive(GIGAWORD_TRAIN, broken)


def test_the_rows_a_selection_needs_are_read_without_the_rest(tmp_path, monkeypatch):
    """A line_columns table counts its rows once, then reads each member only up to the last row selected."""
    gigaword_zip(tmp_path / "ggw_data.zip", [f"d{i}" for i in range(1000)], [f"h{i}" for i in range(1000)])
    table = open_archive(GIGAWORD_TRAIN, tmp_path / "ggw_data.zip")
    real_open, lines_read = table._open, []

    @contextmanager
    def counting_open(member):
        with real_open(member) as handle:
            yield (lines_read.append(member) or line for line in handle)

    monkeypatch.setattr(table, "_open", counting_open)
    assert [row["document"] for row in table.select([30, 4])] == ["d30", "d4"]
    assert lines_read.count("org_data/train.src.txt") == 31 and lines_read.count("org_data/train.tgt.txt") == 31


def test_every_registry_archive_is_well_formed_and_has_a_tiny_copy_here():
    used = {spec.archive for spec in DATASETS.values()} | {source.archive for source in POOL_SOURCES.values()}
    assert used - {None} == set(REPOSITORIES)
    for archive in REPOSITORIES:
        assert archive.layout in LAYOUTS, archive
        if archive.layout == "at_label_lines":
            assert len(archive.members) == 1 and len(archive.fields) == 2, archive
        elif archive.layout == "line_columns":
            assert archive.members and len(archive.members) == len(archive.fields), archive
        else:
            assert not archive.members and not archive.fields, archive
