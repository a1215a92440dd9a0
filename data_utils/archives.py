"""Rows of a source file published in a hub repository (configs/archives.py), read by layout.

`open_archive(archive, path)` returns a table: `len(table)`, `table.select(indices)` (the
rows at those positions, in the order given) and `table.to_list()`. The pool samples about
a thousand rows of a source, and Gigaword's training member alone holds 3.8 million lines,
so the large layouts read on demand: first a row count, then one pass over each member for
the rows selected; nothing is unpacked to disk or held whole in memory. `path` is the
published zip or, for a one-member layout, a copy of that member.
"""
from __future__ import annotations

import io
import json
from abc import ABC, abstractmethod
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from configs.archives import Archive
from data_utils.errors import FuteError


class ArchiveTable(ABC):
    """The rows of one archive; a subclass per layout says how they are stored."""

    def __init__(self, archive: Archive, path: str | Path):
        self.archive, self.path = archive, Path(path)
        self._is_zip = self.path.suffix == ".zip"

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def select(self, indices: Sequence[int]) -> list[dict]:
        """The rows at `indices` (positions 0..len-1), in the order given."""

    def to_list(self) -> list[dict]:
        return self.select(range(len(self)))

    def _where(self, member: str) -> str:
        return f"{self.path}/{member}" if self._is_zip else str(self.path)

    def _text(self, value: str) -> str:
        for old, new in self.archive.replace:
            value = value.replace(old, new)
        return value

    def _check_indices(self, indices: Sequence[int]) -> None:
        outside = [i for i in indices if not 0 <= i < len(self)]
        if outside:
            raise IndexError(f"row {outside[0]} of {self.path}, which has {len(self)} rows")

    @contextmanager
    def _zip(self) -> Iterator[zipfile.ZipFile]:
        try:
            archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as err:
            raise FuteError(f"{self.path}: not a readable zip archive ({err}); delete it to download it again, or "
                            f"give a copy of the published {Path(self.archive.file).name}") from None
        with archive:
            yield archive

    @contextmanager
    def _open(self, member: str) -> Iterator[IO[str]]:
        """A member as text, its lines split as Python's open() splits them (as the loading scripts read it)."""
        with self._raw(member) as raw, io.TextIOWrapper(raw, encoding=self.archive.encoding) as handle:
            try:
                yield handle
            except UnicodeDecodeError as err:
                raise FuteError(f"{self._where(member)}: not {self.archive.encoding} text ({err.reason}); delete the "
                                f"archive to download it again") from None

    @contextmanager
    def _raw(self, member: str) -> Iterator[IO[bytes]]:
        if not self._is_zip:
            if len(self.archive.members) != 1:
                raise FuteError(f"{self.path}: expected the published {Path(self.archive.file).name}")
            with open(self.path, "rb") as handle:
                yield handle
            return
        with self._zip() as archive:
            try:
                handle = archive.open(member)
            except KeyError:
                itself = f" or {Path(member).name} itself" if len(self.archive.members) == 1 else ""
                raise FuteError(f"{self.path} holds no {member}; give the published "
                                f"{Path(self.archive.file).name}{itself}") from None
            with handle:
                yield handle


class AtLabelLines(ArchiveTable):
    """"<text>@<label>" lines of one member (financial_phrasebank), parsed at once: the file is small."""

    def __init__(self, archive: Archive, path: str | Path):
        super().__init__(archive, path)
        text_field, label_field = archive.fields
        member = archive.members[0]
        self._rows = []
        with self._open(member) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                text, at, label = line.rpartition("@")
                if not at:
                    raise FuteError(f"{self._where(member)}:{number}: not a '<{text_field}>@<{label_field}>' line")
                self._rows.append({text_field: self._text(text.strip()), label_field: label.strip()})

    def __len__(self) -> int:
        return len(self._rows)

    def select(self, indices: Sequence[int]) -> list[dict]:
        self._check_indices(indices)
        return [self._rows[i] for i in indices]


class LineColumns(ArchiveTable):
    """Parallel members, one field each: row i is line i of every member (gigaword, wiki_bio)."""

    def __init__(self, archive: Archive, path: str | Path):
        super().__init__(archive, path)
        with self._open(archive.members[0]) as handle:
            self._length = sum(1 for _ in handle)

    def __len__(self) -> int:
        return self._length

    def select(self, indices: Sequence[int]) -> list[dict]:
        indices = list(indices)
        self._check_indices(indices)
        rows: dict[int, dict] = {i: {} for i in indices}
        last = max(indices, default=-1)
        for field, member in zip(self.archive.fields, self.archive.members):
            found = 0
            with self._open(member) as handle:
                for number, line in enumerate(handle):
                    if number in rows:
                        _put(rows[number], field, self._text(line.strip()))
                        found += 1
                    if number == last:
                        break
            if found < len(rows):
                raise FuteError(f"{self._where(member)} has fewer lines than {self.archive.members[0]} "
                                f"({self._length}); delete the archive to download it again")
        return [rows[i] for i in indices]


class JsonMembers(ArchiveTable):
    """One JSON object per member (search_qa), rows in member-name order."""

    def __init__(self, archive: Archive, path: str | Path):
        super().__init__(archive, path)
        with self._zip() as opened:
            # "__MACOSX/" entries are resource forks that macOS's zip adds beside each file.
            self._names = sorted(name for name in opened.namelist()
                                 if name.endswith(".json") and not name.startswith("__MACOSX/"))
        if not self._names:
            raise FuteError(f"{self.path} holds no .json member; give the published {Path(archive.file).name}")

    def __len__(self) -> int:
        return len(self._names)

    def select(self, indices: Sequence[int]) -> list[dict]:
        self._check_indices(indices)
        rows = []
        with self._zip() as opened:
            for i in indices:
                name = self._names[i]
                try:
                    row = json.loads(opened.read(name).decode(self.archive.encoding))
                except (UnicodeDecodeError, json.JSONDecodeError) as err:
                    raise FuteError(f"{self._where(name)}: not JSON ({err}); delete the archive to download it "
                                    f"again") from None
                if not isinstance(row, dict):
                    raise FuteError(f"{self._where(name)}: a JSON {type(row).__name__}, not an object (one row)")
                rows.append({key: self._text(value) if isinstance(value, str) else value
                             for key, value in row.items()})
        return rows


def _put(row: dict, field: str, value: str) -> None:
    """row[field] = value, where a dotted field ("input_text.context") is a nested one."""
    *parents, leaf = field.split(".")
    for parent in parents:
        row = row.setdefault(parent, {})
    row[leaf] = value


LAYOUTS: dict[str, type[ArchiveTable]] = {
    "at_label_lines": AtLabelLines,
    "line_columns": LineColumns,
    "json_members": JsonMembers,
}


def open_archive(archive: Archive, path: str | Path) -> ArchiveTable:
    """The rows of `archive` in the file at `path` (the published zip, or the member of a one-member layout)."""
    return LAYOUTS[archive.layout](archive, path)
