"""Reading a stock file (CSV in the encodings and delimiters Swedish ERPs and Excel write,
XLSX) and turning its rows into the PUT's body through a column mapping."""

import io

import pytest
from openpyxl import Workbook

from items.imports import files
from items.imports.mapping import guess_mapping, number, row_body, split_urls
from rheo.errors import ServiceError

SWEDISH = "Artikelnr;Benämning;Pris;Frakt;Bild 1;Bild 2;OE-nummer;Märke;Skick\n"
ROW = "A-1;Bromsok fram vänster;1 234,50;149;https://cdn.example.se/1.jpg;;31400452;Volvo;b\n"


def read(data: bytes, name: str = "stock.csv") -> files.Table:
    return files.read_table(name=name, data=data)


@pytest.mark.parametrize(
    ("data", "file_format"),
    [
        ((SWEDISH + ROW).encode("utf-8"), "CSV (semicolons, UTF-8)"),
        (b"\xef\xbb\xbf" + (SWEDISH + ROW).encode("utf-8"), "CSV (semicolons, UTF-8)"),
        ((SWEDISH + ROW).encode("cp1252"), "CSV (semicolons, Windows-1252)"),
        ((SWEDISH + ROW).encode("latin-1"), "CSV (semicolons, Windows-1252)"),
        ((SWEDISH + ROW).replace(";", "\t").encode("utf-16"), "CSV (tabs, UTF-16)"),
    ],
    ids=["utf8", "utf8-bom", "windows-1252", "latin-1", "utf16-tab"],
)
def test_swedish_letters_survive_every_common_encoding(data, file_format):
    table = read(data)
    assert table.file_format == file_format
    assert table.header[1] == "Benämning"  # no BOM glued to the first name, å ä ö intact
    assert table.header[0] == "Artikelnr"
    assert table.rows == [
        (
            2,
            [
                "A-1",
                "Bromsok fram vänster",
                "1 234,50",
                "149",
                "https://cdn.example.se/1.jpg",
                "",
                "31400452",
                "Volvo",
                "b",
            ],
        )
    ]


def test_a_comma_file_with_quoted_commas_and_new_lines_in_cells():
    data = (
        "externalId,title,description,price\r\n"
        '1,"Strålkastare, höger","Rad ett\r\nrad två",450\r\n'
        "\r\n"
        "2,Backspegel,,120\r\n"
    ).encode()
    table = read(data)
    assert table.file_format == "CSV (commas, UTF-8)"
    assert table.rows == [
        (3, ["1", "Strålkastare, höger", "Rad ett\r\nrad två", "450"]),
        (5, ["2", "Backspegel", "", "120"]),
    ]


def test_an_xlsx_sheet_is_read_with_numbers_as_text():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Artikelnr", "Benämning", "Pris", "Vikt"])
    sheet.append([12345, "Bromsok", 950.0, 3.25])
    sheet.append([None, None, None, None])
    sheet.append(["B-2", "Spegel", 120.5, None])
    out = io.BytesIO()
    workbook.save(out)
    table = read(out.getvalue(), "lager.xlsx")
    assert table.file_format == "XLSX"
    assert table.header == ["Artikelnr", "Benämning", "Pris", "Vikt"]
    assert table.rows == [(2, ["12345", "Bromsok", "950", "3.25"]), (4, ["B-2", "Spegel", "120.5"])]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.csv", "The file is empty."),
        (b"externalId;title\n", "a.csv", "The file has a header but no rows of items."),
        (b"\x00\x01\x02binary", "a.csv", "This is not a text file."),
        (b"PK\x03\x04 not really a zip", "a.xlsx", "This is not a readable XLSX file"),
        (b"just text", "a.xlsx", "This is not a readable XLSX file"),
        (b'id,title\n1,"unclosed\n', "a.csv", None),  # csv reads to the end: one row
    ],
)
def test_a_bad_file_gets_a_clear_error(data, name, message):
    if message is None:
        assert len(read(data, name).rows) == 1
        return
    with pytest.raises(ServiceError) as raised:
        read(data, name)
    assert raised.value.code == "validation_error"
    assert raised.value.message.startswith(message)


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed():
    with pytest.raises(ServiceError, match="at most 20 MB"):
        read(b"x" * (files.MAX_FILE_BYTES + 1))


def test_a_file_over_the_row_limit_is_refused():
    rows = "".join(f"{n}\n" for n in range(files.MAX_ROWS + 1))
    with pytest.raises(ServiceError, match="more than 100,000 rows"):
        read(f"id\n{rows}".encode())


def test_the_mapping_is_guessed_from_swedish_and_english_headers():
    header = SWEDISH.strip().split(";")
    assert guess_mapping(header, {}) == [
        "externalId",
        "title",
        "price",
        "shippingCost",
        "imageUrls",
        "imageUrls",
        "oemCode",
        "manufacturer",
        "conditionGrade",
    ]
    english = ["SKU", "Name", "Price", "Shipping", "Images", "Notes", "Weight", "Colour"]
    assert guess_mapping(english, {}) == [
        "externalId",
        "title",
        "price",
        "shippingCost",
        "imageUrls",
        "description",
        "weightKg",
        "",
    ]


def test_a_remembered_choice_wins_over_the_guess_and_a_field_goes_to_one_column():
    header = ["Lagernr", "Artikelnr", "Namn", "Namn"]
    remembered = {"lagernr": "externalId", "artikelnr": ""}
    assert guess_mapping(header, remembered) == ["externalId", "", "title", ""]


def test_a_row_becomes_the_puts_body_with_swedish_numbers_and_the_domain():
    header = SWEDISH.strip().split(";")
    cells = ROW.strip().split(";")
    body = row_body(cells, guess_mapping(header, {}), {"autoPublishTradera": True})
    assert body == {
        "externalId": "A-1",
        "title": "Bromsok fram vänster",
        "price": 1234.5,
        "shippingCost": 149.0,
        "imageUrls": ["https://cdn.example.se/1.jpg"],
        "autoPublishTradera": True,
        "domain": {
            "domain": "automotive_part",
            "oemCode": "31400452",
            "manufacturer": "Volvo",
            "conditionGrade": "B",
        },
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("950", 950.0),
        ("1 234,50", 1234.5),
        ("1\u00a0234,50 kr", 1234.5),
        ("1.234,50", 1234.5),
        ("1,234.50", 1234.5),
        ("450:-", 450.0),
        ("gratis", "gratis"),  # left as text: the PUT's validation names the field
    ],
)
def test_numbers_as_swedish_erps_write_them(text, value):
    assert number(text) == value


def test_several_image_urls_in_one_cell():
    cell = "https://a.example/1.jpg, https://a.example/2,3.jpg|https://a.example/4.jpg\nx"
    assert split_urls(cell) == [
        "https://a.example/1.jpg",
        "https://a.example/2,3.jpg",
        "https://a.example/4.jpg",
        "x",
    ]
