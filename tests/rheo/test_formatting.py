"""The one way people read money, counts and times in Rheo's pages."""

from datetime import UTC, datetime
from decimal import Decimal

from rheo.formatting import grouped, sek, spreadsheet_cell, when

NNBSP, NBSP = "\N{NARROW NO-BREAK SPACE}", "\N{NO-BREAK SPACE}"


def test_money_is_grouped_the_swedish_way_with_ore_only_when_there_are_any():
    assert sek(Decimal("1100.00")) == f"1{NNBSP}100{NBSP}kr"
    assert sek(950.5) == f"950,50{NBSP}kr"
    assert sek(0) == f"0{NBSP}kr"
    assert sek(Decimal("-1234567.05")) == f"-1{NNBSP}234{NNBSP}567,05{NBSP}kr"
    assert sek(None) == ""


def test_counts_are_grouped():
    assert grouped(10000) == f"10{NNBSP}000"
    assert grouped(999) == "999"


def test_times_are_swedish_and_say_so_in_winter_and_in_summer():
    assert when(datetime(2026, 11, 23, 12, 0, tzinfo=UTC)) == "2026-11-23 13:00 CET"
    assert when(datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC), seconds=True) == (
        "2026-07-01 14:00:05 CEST"
    )


def test_a_spreadsheet_cell_never_starts_a_formula():
    assert spreadsheet_cell("=1+1") == "'=1+1"
    assert spreadsheet_cell("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_cell("-2+3") == "'-2+3"
    assert spreadsheet_cell("Bromsok") == "Bromsok"
    assert spreadsheet_cell(-5) == -5
