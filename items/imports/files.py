"""Reading an uploaded stock file into a header and rows of text cells.

CSV as Swedish ERPs and Excel export it: `;`, `,` or tab between fields (the header line
decides), UTF-8 with or without a byte-order mark, UTF-16 with one (Excel's "Unicode
text"), else Windows-1252 (Latin-1's superset: å, ä, ö, €). XLSX: the workbook's first
sheet, read with openpyxl in read-only mode (streamed, so a large sheet is not held in
memory twice), cell values as shown in text (numbers without a trailing .0)."""

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from rheo.errors import ServiceError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 200
DELIMITERS = {";": "semicolons", ",": "commas", "\t": "tabs"}
XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Table:
    file_format: str  # for people: "CSV (semicolons, UTF-8)", "XLSX"
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line in the file, cells); blank rows left out


def file_error(message: str) -> ServiceError:
    return ServiceError("validation_error", message, fields={"file": [message]})


def read_table(*, name: str, data: bytes) -> Table:
    """The file's header and rows, or a validation_error that says what is wrong with it."""
    if len(data) > MAX_FILE_BYTES:
        raise file_error(
            f"The file is {len(data) / 1e6:.1f} MB; at most {MAX_FILE_BYTES // 2**20} MB. "
            "Split it into several files."
        )
    if not data.strip():
        raise file_error("The file is empty.")
    if data.startswith(XLSX_MAGIC) or name.lower().endswith(".xlsx"):
        header, rows = _read_xlsx(data)
        file_format = "XLSX"
    else:
        text, encoding = decode(data)
        delimiter = sniff_delimiter(text)
        header, rows = _read_csv(text, delimiter)
        file_format = f"CSV ({DELIMITERS[delimiter]}, {encoding})"
    header = [cell.strip() for cell in header]
    if not any(header):
        raise file_error("The first row must name the columns; it is empty.")
    if len(header) > MAX_COLUMNS:
        raise file_error(f"The file has {len(header)} columns; at most {MAX_COLUMNS}.")
    if not rows:
        raise file_error("The file has a header but no rows of items.")
    return Table(file_format, header, rows)


def decode(data: bytes) -> tuple[str, str]:
    """The text and the name of its encoding."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    if b"\x00" in data[:4096]:
        raise file_error("This is not a text file. Upload a CSV or an XLSX file.")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        # Not UTF-8: an 8-bit Windows export. Windows-1252 leaves five bytes undefined;
        # Latin-1 reads every byte.
        try:
            return data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "Latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter the header line uses most (outside quotes); `,` when it has none."""
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in first_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(text: str, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = cells
                continue
            rows.append((reader.line_num, [cell.strip() for cell in cells]))
            if len(rows) > MAX_ROWS:
                raise file_error(too_many_rows())
    except csv.Error as exc:
        raise file_error(f"Line {reader.line_num} cannot be read as CSV: {exc}.") from None
    return header or [], rows


def too_many_rows() -> str:
    return f"The file has more than {MAX_ROWS:,} rows; split it into several files."


def _read_xlsx(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook  # only for XLSX files

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise file_error(
            f"This is not a readable XLSX file ({exc}). Save it from Excel as .xlsx or CSV."
        ) from None
    try:
        header: list[str] | None = None
        rows = []
        for number, values in enumerate(workbook.worksheets[0].iter_rows(values_only=True), 1):
            cells = [cell_text(value) for value in values]
            while cells and not cells[-1]:
                cells.pop()
            if not any(cells):
                continue
            if header is None:
                header = cells
                continue
            rows.append((number, cells))
            if len(rows) > MAX_ROWS:
                raise file_error(too_many_rows())
        return header or [], rows
    finally:
        workbook.close()  # read-only mode keeps the archive open until closed


def cell_text(value: object) -> str:
    """A spreadsheet cell as text: 4500.0 as 4500, dates as ISO 8601, empty as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()
