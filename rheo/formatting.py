"""How people read Rheo's money, counts and times: one format for the dashboard, the
marketplace and the staff admin. The APIs keep their own machine formats (decimal strings,
UTC ISO-8601 with a 'Z')."""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.dateformat import format as date_format

# Swedish grouping: a narrow no-break space between thousands, a decimal comma.
GROUP = "\N{NARROW NO-BREAK SPACE}"


def grouped(number) -> str:
    """10000 → "10 000"."""
    if number is None or number == "":
        return ""
    return f"{int(number):,}".replace(",", GROUP)


def sek(amount) -> str:
    """1100 → "1 100 kr", 950.5 → "950,50 kr": öre only when there are any."""
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    whole, cents = divmod(abs(value) * 100, 100)
    text = grouped(whole)
    if cents:
        text += f",{int(cents):02d}"
    return f"{'-' if value < 0 else ''}{text}\N{NO-BREAK SPACE}kr"


def when(moment: datetime | None, *, seconds: bool = False) -> str:
    """An instant in Swedish time, labelled with its zone: "2026-11-23 13:00 CET"
    (CEST in summer)."""
    if moment is None:
        return ""
    pattern = "Y-m-d H:i:s T" if seconds else "Y-m-d H:i T"
    return date_format(timezone.localtime(moment), pattern)


# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value):
    """A CSV cell that opens as text, never as a formula (OWASP's CSV injection advice):
    text starting like a formula gets a leading apostrophe; numbers are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
