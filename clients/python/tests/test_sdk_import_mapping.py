"""rheo import's reading of a CSV file: the mapping, Swedish numbers, what makes a row an
error before anything is sent."""

from decimal import Decimal

import pytest
from rheo_client.importer import ImportError_, StateFile, convert, parse_assignments, read_rows


def write(tmp_path, text: str):
    path = tmp_path / "stock.csv"
    path.write_text(text, encoding="utf-8-sig")  # as Excel saves it, with a BOM
    return path


def test_a_semicolon_file_with_swedish_headers_maps_to_batch_entries(tmp_path):
    path = write(
        tmp_path,
        "Artikelnr;Benämning;Pris;Frakt;Bilder;OEM;Modeller\n"
        "A1;Bromsok;1 250,50;149;https://cdn.example/1.jpg https://cdn.example/2.jpg;"
        "31400452;XC90|XC60\n",
    )
    mapping = parse_assignments(
        "externalId=Artikelnr,title=Benämning,price=Pris,shippingCost=Frakt,"
        "imageUrls=Bilder,domain.oemCode=OEM,domain.compatibleModels=Modeller"
    )
    rows, _ = read_rows(path, mapping, parse_assignments("autoPublishTradera=true"))

    assert rows[0].line == 2
    assert rows[0].item == {
        "externalId": "A1",
        "title": "Bromsok",
        "price": Decimal("1250.50"),
        "shippingCost": Decimal("149"),
        "imageUrls": ["https://cdn.example/1.jpg", "https://cdn.example/2.jpg"],
        "domain": {"domain": "automotive_part", "oemCode": "31400452",
                   "compatibleModels": ["XC90", "XC60"]},
        "autoPublishTradera": True,
    }  # fmt: skip


def test_a_column_named_as_the_field_needs_no_mapping(tmp_path):
    path = write(tmp_path, "externalId,title,price,shippingCost,imageUrls\nB1,Spegel,99,0,u\n")
    rows, _ = read_rows(path, {}, {})
    assert rows[0].item == {"externalId": "B1", "title": "Spegel", "price": Decimal(99),
                            "shippingCost": Decimal(0), "imageUrls": ["u"]}  # fmt: skip


def test_numbers_in_either_notation_and_text_that_is_no_number_is_left_for_rheo_to_refuse():
    assert convert("price", "1,250.50") == Decimal("1250.50")
    assert convert("price", "950,5") == Decimal("950.5")
    assert convert("price", "gratis") == "gratis"
    assert convert("domain.donorVehicleYear", "2018") == 2018
    assert convert("useAiEnhancement", "Ja") is True


def test_the_same_external_id_on_two_rows_makes_both_errors(tmp_path):
    path = write(tmp_path, "externalId,title\nC1,a\nC2,b\nC1,c\n")
    rows, _ = read_rows(path, {}, {})
    assert [r.error is not None for r in rows] == [True, False, True]
    assert "rows 2, 4" in rows[0].error[1]


def test_an_unknown_field_or_a_missing_column_stops_the_import_before_it_starts(tmp_path):
    with pytest.raises(ImportError_, match="unknown field titel"):
        parse_assignments("titel=Benämning")
    path = write(tmp_path, "Artikelnr,Benämning\nA,b\n")
    with pytest.raises(ImportError_, match="no column Pris"):
        read_rows(path, parse_assignments("externalId=Artikelnr,price=Pris"), {})
    with pytest.raises(ImportError_, match="externalId"):
        read_rows(path, parse_assignments("title=Benämning"), {})


def test_the_state_file_is_kept_per_rheo_and_key(tmp_path):
    path = write(tmp_path, "externalId,title\nD1,a\n")
    rows, _ = read_rows(path, {}, {})
    state = StateFile(tmp_path / "state.json", "http://a", "rheo_test_1234567890")
    state.record(rows)

    assert StateFile(tmp_path / "state.json", "http://a", "rheo_test_1234567890").unchanged(rows[0])
    assert not StateFile(tmp_path / "state.json", "http://b", "rheo_test_1234567890").unchanged(
        rows[0]
    )
    rows[0].item = {**(rows[0].item or {}), "title": "changed"}
    assert not StateFile(tmp_path / "state.json", "http://a", "rheo_test_1234567890").unchanged(
        rows[0]
    )
