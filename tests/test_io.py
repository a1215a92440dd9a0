"""data_utils/io.py: JSON Lines and JSON written by Windows tools (byte-order marks, UTF-16, CRLF) are read, with
the line numbers a text editor shows; what is not text names the fix."""
from __future__ import annotations

import codecs
import json

import pytest

from data_utils.errors import FuteError
from data_utils.io import complete_lines_end, iter_jsonl_lines, read_json
from data_utils.artifacts.model_inputs import read_model_inputs

ROWS = [{"content": "un café, très bon", "data_index": 0}, {"content": "bad", "data_index": 1},
        {"content": "fine", "data_index": 2}]


def lines(rows, newline: str = "\n") -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + newline for row in rows)


# The bytes each tool writes for the same three lines.
WRITTEN_BY = {
    # Notepad, "UTF-8 with BOM" (its default before Windows 10 1903), CRLF line ends.
    "notepad-utf8-bom": codecs.BOM_UTF8 + lines(ROWS, "\r\n").encode("utf-8"),
    # PowerShell 7: Set-Content -Encoding utf8BOM (LF on Linux, CRLF on Windows).
    "pwsh-utf8bom": codecs.BOM_UTF8 + lines(ROWS).encode("utf-8"),
    # Windows PowerShell 5.1: `>` and Out-File write UTF-16 LE with a BOM, CRLF.
    "powershell-5-redirect": codecs.BOM_UTF16_LE + lines(ROWS, "\r\n").encode("utf-16-le"),
    "utf16-be-bom": codecs.BOM_UTF16_BE + lines(ROWS, "\r\n").encode("utf-16-be"),
    # `cat a.jsonl b.jsonl` of two files saved with a BOM: the second BOM starts line 2.
    "cat-of-bom-files": (codecs.BOM_UTF8 + lines(ROWS[:1]).encode("utf-8")
                         + codecs.BOM_UTF8 + lines(ROWS[1:]).encode("utf-8")),
}


@pytest.mark.parametrize("tool", WRITTEN_BY)
def test_json_lines_of_windows_tools_are_read_line_for_line(tmp_path, tool):
    path = tmp_path / "x.jsonl"
    path.write_bytes(WRITTEN_BY[tool])
    read = list(iter_jsonl_lines(path))
    assert [record for _, record in read] == ROWS
    assert [where for where, _ in read] == [f"{path}:{n}" for n in (1, 2, 3)]
    # A reader of x' (the LLM's inputs) takes them as they are.
    assert [item.texts["content"] for item in read_model_inputs(path, "sa")] == [r["content"] for r in ROWS]


def test_a_bad_line_after_a_bom_is_named_by_its_line_number(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + (lines(ROWS[:2], "\r\n") + '{"content": "cut\r\n').encode("utf-8"))
    with pytest.raises(FuteError, match=r"x.jsonl:3: not a JSON line"):
        list(iter_jsonl_lines(path))


def test_json_with_a_bom_is_read_and_text_that_is_not_utf8_names_the_fix(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(codecs.BOM_UTF8 + json.dumps({"best": 0.5}).encode("utf-8"))
    assert read_json(path) == {"best": 0.5}
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(lines(ROWS).encode("latin-1"))
    with pytest.raises(FuteError, match=r"latin.jsonl:1: not UTF-8 text; save the file as UTF-8"):
        list(iter_jsonl_lines(latin))
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(codecs.BOM_UTF16_LE + '{}\n'.encode("utf-16-le") + b"\x00\xd8a\x00")  # a lone surrogate
    with pytest.raises(FuteError, match=r"broken.jsonl: not UTF-16 text \(illegal UTF-16 surrogate\); save the file "
                                        r"as UTF-8"):
        list(iter_jsonl_lines(broken))
    latin.rename(latin.with_suffix(".json"))
    with pytest.raises(FuteError, match=r"latin.json: not UTF-8 text; save it as UTF-8"):
        read_json(latin.with_suffix(".json"))


@pytest.mark.parametrize("content, end", [(b"", 0), (b"a\n", 2), (b"a\nbc", 2), (b"abc", 0),
                                          (b"a\n" + b"x" * 70000, 2), (b"a\n" * 40000 + b"b", 80000)])
def test_complete_lines_end_is_where_the_last_newline_ends(tmp_path, content, end):
    path = tmp_path / "f"
    path.write_bytes(content)
    assert complete_lines_end(path) == end
