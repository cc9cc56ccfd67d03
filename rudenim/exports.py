"""What every export shares: formula-safe cells and streamed CSV."""

import csv
import io
import re
from collections.abc import Iterable, Iterator
from itertools import islice

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 500


def neutralise(value):
    """A cell a spreadsheet will not run: formulas get a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def xlsx_row(cells: Iterable) -> list:
    """Cells an XLSX sheet can hold: XML 1.0 has no control characters.

    openpyxl refuses a cell with one, so a stored name with a stray control
    character would otherwise fail the whole export; the character is dropped.
    A row of text is searched once, as a whole: a search a cell took a sixth of
    a long export's time. (The writer leaves empty text out of the file, as a
    spreadsheet leaves an empty cell.)
    """
    cells = list(cells)
    try:
        if not ILLEGAL_CHARACTERS_RE.search("".join(cells)):
            return cells
    except TypeError:  # not all text: each text cell on its own
        pass
    return [
        ILLEGAL_CHARACTERS_RE.sub("", cell) if isinstance(cell, str) else cell for cell in cells
    ]


def csv_stream(
    header: list[str], rows: Iterable[list], *, neutralised: bool = False
) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so spreadsheet programs read it right), produced a
    chunk of rows at a time; every cell neutralised (here, unless the caller
    says its rows already are)."""
    line = CsvLines()
    lines = ["\ufeff" + line([neutralise(cell) for cell in header])]
    if not neutralised:
        rows = ([neutralise(cell) for cell in row] for row in rows)
    rows = iter(rows)
    while chunk := list(islice(rows, CHUNK_ROWS)):
        lines.extend(map(line, chunk))
        yield "".join(lines).encode("utf-8")
        lines.clear()
    if lines:
        yield "".join(lines).encode("utf-8")  # the header of a list with no rows


#: What makes csv.writer quote a cell, besides the comma.
_NEEDS_QUOTES = re.compile('["\r\n]')


class CsvLines:
    """A row's line as ``csv.writer`` writes it (Excel's dialect: commas,
    quotes only where a cell needs them, CRLF).

    A row of text in which no cell holds a comma, a quote or a line break is
    the cells joined by commas; ``csv.writer`` writes only the rest. It reads
    every character through a function call to decide whether a cell needs
    quotes (a quarter of a 100,000-row export's time), where ``str.join`` and
    ``str.count`` scan in C.
    """

    def __init__(self):
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def __call__(self, cells: list) -> str:
        try:
            line = ",".join(cells)
        except TypeError:  # not all text: numbers and None are csv.writer's to write
            line = ""
        # An empty line is a row of one empty cell (written "") or of none.
        if line and line.count(",") == len(cells) - 1 and not _NEEDS_QUOTES.search(line):
            return line + "\r\n"
        self._writer.writerow(cells)
        written = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return written
