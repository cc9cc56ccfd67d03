"""The streamed XLSX writer: what it writes, openpyxl reads back cell for cell."""

import io
import zipfile

import pytest
from openpyxl import load_workbook

from rudenim.xlsx import write_xlsx


def written(tmp_path, sheets):
    path = tmp_path / "book.xlsx"
    write_xlsx(str(path), sheets)
    return path


def read_back(path) -> dict[str, list[list]]:
    workbook = load_workbook(path)
    return {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in workbook.worksheets
    }


def test_openpyxl_reads_back_every_cell(tmp_path):
    rows = [
        ["Case", "Name", "Note", "Count"],
        ["KPG-0001", "Amina & Yusuf <family>", 'She said "no"', 3],
        ["KPG-0002", "  Bashir Karimi ", "line one\r\nline two\ttab", 2.5],
        ["KPG-0003", "محمد رضایی", "မောင်မောင်", -7],
        ["KPG-0004", None, '\'=HYPERLINK("x")', True],
        [],
        [None, None, None, 0],
    ]
    path = written(tmp_path, [("Verification", rows), ("About this list", [["Rows", 6]])])

    sheets = read_back(path)

    assert list(sheets) == ["Verification", "About this list"]
    # openpyxl pads every row to the widest one; an empty row reads as empty cells.
    width = 4
    expected = [row + [None] * (width - len(row)) for row in rows]
    assert sheets["Verification"] == expected
    assert sheets["About this list"] == [["Rows", 6]]


def test_wide_rows_get_column_letters_past_z(tmp_path):
    row = [f"cell {number}" for number in range(60)]
    sheets = read_back(written(tmp_path, [("Wide", [row, row[:30]])]))
    assert sheets["Wide"][0] == row
    assert sheets["Wide"][1] == row[:30] + [None] * 30


def test_a_long_list_is_written_in_chunks_and_read_back_whole(tmp_path):
    rows = ([f"KPG-{n:05d}", f"Person {n}", n] for n in range(2500))
    sheets = read_back(written(tmp_path, [("List", rows)]))
    assert len(sheets["List"]) == 2500
    assert sheets["List"][-1] == ["KPG-02499", "Person 2499", 2499]


def test_the_package_names_its_parts(tmp_path):
    path = written(tmp_path, [("Verification", [["a"]]), ("About", [["b"]])])
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        types = archive.read("[Content_Types].xml").decode()
    assert {
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/worksheets/sheet1.xml",
        "xl/worksheets/sheet2.xml",
    } <= names
    assert types.count("spreadsheetml.worksheet+xml") == 2


@pytest.mark.parametrize(
    "name", ["", "a" * 32, "Lists [2024]", "A/B", "Why?", "Star*", "Back\\slash", "Colon:"]
)
def test_a_sheet_name_excel_refuses_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="sheet name"):
        write_xlsx(str(tmp_path / "book.xlsx"), [(name, [["x"]])])


def test_two_sheets_of_one_name_are_refused(tmp_path):
    with pytest.raises(ValueError, match="same name"):
        write_xlsx(str(tmp_path / "book.xlsx"), [("List", []), ("list", [])])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), b"bytes"])
def test_a_cell_that_is_not_text_or_a_finite_number_is_refused(tmp_path, value):
    with pytest.raises(TypeError, match="text or a finite number"):
        write_xlsx(str(tmp_path / "book.xlsx"), [("List", [["ok", value]])])


def test_a_sheet_of_no_rows_is_an_empty_sheet(tmp_path):
    sheets = read_back(written(tmp_path, [("Empty", [])]))
    assert sheets["Empty"] in ([], [[None]])
    assert load_workbook(io.BytesIO((tmp_path / "book.xlsx").read_bytes())).sheetnames == ["Empty"]
