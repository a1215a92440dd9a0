"""Source files that hub repositories publish beside a loading script, and how they are laid out (data only).

`datasets` >= 4 refuses loading scripts. Several script-only repositories also host the
files their script read; when no `datasets.load_dataset` call loads such an entry, the
file is downloaded once (`huggingface_hub.hf_hub_download`, into the Hugging Face cache)
and read by `data_utils.archives` into rows with the loading script's own field names, so
the registries' fields and templates apply unchanged. The layouts:

    at_label_lines  one text member; each non-empty line is "<text>@<label>" (the label
                    follows the last "@"); fields: (text field, label field)
    line_columns    one text member per field; row i is line i of every member, stripped
    json_members    every member whose name ends in ".json" holds one row (a JSON object),
                    rows in member-name order; no fields (each object's keys are the fields)

A dotted field name ("input_text.context") makes a nested field, as the script's features
did. `replace` lists the (old, new) substitutions the script applied to every text.
The layouts and member names below were read from the loading scripts (huggingface/datasets
before 3.0, and the repositories' own scripts) and from public code that reads the files.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Archive:
    """One split of a dataset inside a file of its hub repository."""

    file: str  # the file's path in the hub repository
    layout: str  # one of data_utils.archives.LAYOUTS
    members: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    encoding: str = "utf-8"
    replace: tuple[tuple[str, str], ...] = ()


# takala/financial_phrasebank: the paper's data (all annotators agree, 2,264 sentences); the script read the
# member as ISO-8859-1 and cut each line at its last "@".
FINANCIAL_PHRASEBANK_ALLAGREE = Archive(
    "data/FinancialPhraseBank-v1.0.zip", "at_label_lines", members=("FinancialPhraseBank-v1.0/Sentences_AllAgree.txt",),
    fields=("sentence", "label"), encoding="latin-1")

# Harvard/gigaword (578 MB): org_data/{train,dev,test}.{src,tgt}.txt, one document (src) and its headline (tgt)
# per line, 3,803,957 training pairs; the script (version 1.2.0) wrote "<unk>" as "UNK" in train and dev.
GIGAWORD_TRAIN = Archive(
    "data/ggw_data.zip", "line_columns", members=("org_data/train.src.txt", "org_data/train.tgt.txt"),
    fields=("document", "summary"), replace=(("<unk>", "UNK"),))

# kyunghyuncho/search_qa, config train_test_val: one zip per split (train, val, test), one JSON file per
# question with the fields category, air_date, question, value, answer, round, show_number, search_results.
SEARCH_QA_TRAIN = Archive("data/train_test_val/train.zip", "json_members")

# michaelauli/wiki_bio: wikipedia-biography-dataset/{train,valid,test}/<split>.{id,box,nb,sent,title}, one
# article per line of .title/.box; the script's input_text.context is the article's title line.
WIKI_BIO_TRAIN = Archive(
    "data/wikipedia-biography-dataset.zip", "line_columns",
    members=("wikipedia-biography-dataset/train/train.title",), fields=("input_text.context",))
