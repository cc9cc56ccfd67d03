"""What every export shares: formula-safe cells and streamed CSV."""

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import islice

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: The same, as a set of first characters (each is one).
FORMULA_FIRST = frozenset(FORMULA_STARTS)
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
    An empty cell is left out of the file (None), as a spreadsheet leaves it.
    """
    return [
        (ILLEGAL_CHARACTERS_RE.sub("", cell) or None) if cell.__class__ is str else cell
        for cell in cells
    ]


def csv_stream(
    header: list[str], rows: Iterable[list], *, neutralised: bool = False
) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so spreadsheet programs read it right), produced a
    chunk of rows at a time; every cell neutralised (here, unless the caller
    says its rows already are)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([neutralise(cell) for cell in header])
    if not neutralised:
        rows = ([neutralise(cell) for cell in row] for row in rows)
    rows = iter(rows)
    while chunk := list(islice(rows, CHUNK_ROWS)):
        writer.writerows(chunk)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")  # the header of a list with no rows
