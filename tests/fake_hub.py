"""Pieces of a fake hub for tests: rows that fit a registry entry, and tiny copies of the published archives.

The archives' layouts are written out here from the loading scripts (huggingface/datasets
before 3.0 and the repositories' own scripts), not read from configs/archives.py, so a test
that reads these files through the registry checks the registry's member and field names
too. Each archive builder writes a zip and returns the rows (as the loading script yielded
them) of the split the project reads.
"""
from __future__ import annotations

import json
import string
import zipfile
from pathlib import Path


def template_rows(source, texts: list[str]) -> list[dict]:
    """Rows holding every field a pool source's templates read ("{a[b]}": a nested field), one per text."""
    rows = []
    for text in texts:
        row = {}
        for template in source.templates:
            for _, field, _, _ in string.Formatter().parse(template):
                if field:
                    name, _, key = field.partition("[")
                    row[name] = {key.rstrip("]"): text} if key else text
        rows.append(row)
    return rows


def dataset_rows(spec, count: int = 2) -> list[dict]:
    """Rows with every field a registry dataset is read from (its inputs and label 0, or SQuAD's fields, under the
    data's own column names; a yes/no set's answers 1 and 0)."""
    if spec.task_class == "qa":
        column = {field: name for name, field in spec.columns}
        return [{column.get(field, field): value for field, value in (
            ("id", str(i)), ("title", ""), ("context", f"context {i}"), ("question", f"question {i}?"),
            ("answers", (i + 1) % 2 if spec.yes_no else {"text": ["context"], "answer_start": [0]}))}
            for i in range(count)]
    return [{**{field: f"{field} {i}" for field in spec.inputs}, spec.label_field: 0} for i in range(count)]


def financial_phrasebank_zip(path: Path, lines: list[str]) -> list[dict]:
    """FinancialPhraseBank-v1.0.zip: Sentences_{50,66,75,All}Agree.txt, "<sentence>@<label>" lines in ISO-8859-1."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("FinancialPhraseBank-v1.0/Sentences_AllAgree.txt", "\r\n".join(lines).encode("latin-1"))
        archive.writestr("FinancialPhraseBank-v1.0/Sentences_50Agree.txt", b"Other data .@neutral\r\n")
    return [{"sentence": line.rsplit("@", 1)[0].strip(), "label": line.rsplit("@", 1)[1].strip()} for line in lines]


def gigaword_zip(path: Path, documents: list[str], summaries: list[str]) -> list[dict]:
    """ggw_data.zip: org_data/{train,dev,test}.{src,tgt}.txt, one pair per line; the script wrote "<unk>" as
    "UNK" in train and dev."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("org_data/train.src.txt", "".join(f"{line}\n" for line in documents))
        archive.writestr("org_data/train.tgt.txt", "".join(f"{line}\n" for line in summaries))
        for split in ("dev", "test"):
            archive.writestr(f"org_data/{split}.src.txt", "a dev document\n")
            archive.writestr(f"org_data/{split}.tgt.txt", "a dev headline\n")
    return [{"document": d.strip().replace("<unk>", "UNK"), "summary": s.strip().replace("<unk>", "UNK")}
            for d, s in zip(documents, summaries)]


def search_qa_zip(path: Path, questions: list[dict]) -> list[dict]:
    """data/train_test_val/train.zip: one JSON object per question and file; rows in file-name order."""
    names = {}
    with zipfile.ZipFile(path, "w") as archive:
        for number, question in enumerate(questions):
            name = f"{number}.json" if number % 2 else f"part/{number}.json"  # any folder depth
            names[name] = question
            archive.writestr(name, json.dumps(question))
        archive.writestr("__MACOSX/._0.json", b"\x00\x05\x16\x07")  # a macOS resource fork, not a row
        archive.writestr("readme.txt", "not a row")
    return [names[name] for name in sorted(names)]


def search_qa_question(number: int, category: str = "HISTORY") -> dict:
    """One question as the J! Archive crawl stored it (the fields the loading script read)."""
    return {"category": category, "air_date": "2004-12-31", "question": f"question {number}", "value": "$200",
            "answer": f"answer {number}", "round": "Jeopardy!", "show_number": "4680",
            "search_results": [{"url": "u", "snippet": "s", "title": "t", "related_links": None}]}


def wiki_bio_zip(path: Path, titles: list[str]) -> list[dict]:
    """wikipedia-biography-dataset.zip: wikipedia-biography-dataset/{train,valid,test}/<split>.{id,box,nb,sent,title};
    the script's input_text.context is the .title line."""
    with zipfile.ZipFile(path, "w") as archive:
        for split, split_titles in (("train", titles), ("valid", ["a validation title"])):
            base = f"wikipedia-biography-dataset/{split}/{split}"
            archive.writestr(f"{base}.title", "".join(f"{title}\n" for title in split_titles))
            archive.writestr(f"{base}.id", "".join(f"{i}\n" for i in range(len(split_titles))))
            archive.writestr(f"{base}.nb", "".join("1\n" for _ in split_titles))
            archive.writestr(f"{base}.sent", "".join(f"{title} was born .\n" for title in split_titles))
            archive.writestr(f"{base}.box", "".join("name_1:x\tname_2:y\n" for _ in split_titles))
    return [{"input_text": {"context": title.strip()}} for title in titles]


def tiny_archive(hub_id: str, file: str, folder: Path, rows: int = 5) -> tuple[Path, list[dict]]:
    """A tiny copy of the file `file` of repository `hub_id`, with `rows` rows: (path, expected rows)."""
    path = folder / Path(file).name
    if (hub_id, file) == ("takala/financial_phrasebank", "data/FinancialPhraseBank-v1.0.zip"):
        return path, financial_phrasebank_zip(path, [f"Sentence {i} .@positive" for i in range(rows)])
    if (hub_id, file) == ("Harvard/gigaword", "data/ggw_data.zip"):
        return path, gigaword_zip(path, [f"document {i} <unk>" for i in range(rows)],
                                  [f"headline {i}" for i in range(rows)])
    if (hub_id, file) == ("kyunghyuncho/search_qa", "data/train_test_val/train.zip"):
        return path, search_qa_zip(path, [search_qa_question(i) for i in range(rows)])
    if (hub_id, file) == ("michaelauli/wiki_bio", "data/wikipedia-biography-dataset.zip"):
        return path, wiki_bio_zip(path, [f"person {i}" for i in range(rows)])
    raise KeyError(f"no tiny copy of {file} of {hub_id}")
