"""How the marketplace writes prices and condition grades for Swedish buyers."""

from decimal import Decimal

from django import template

from items.forms import CONDITION_GRADES

register = template.Library()


@register.filter
def sek(amount) -> str:
    """1200 → "1 200 kr", 950.5 → "950,50 kr" (Swedish: a thin space between thousands,
    a decimal comma, öre only when there are any)."""
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    whole, cents = divmod(abs(value) * 100, 100)
    text = f"{int(whole):,}".replace(",", "\N{NARROW NO-BREAK SPACE}")
    if cents:
        text += f",{int(cents):02d}"
    return f"{'-' if value < 0 else ''}{text}\N{NO-BREAK SPACE}kr"


@register.filter
def kg(weight) -> str:
    """3.200 → "3,2 kg"."""
    text = f"{Decimal(str(weight)).normalize():f}".replace(".", ",")
    return f"{text}\N{NO-BREAK SPACE}kg"


@register.filter
def grade_name(grade: str) -> str:
    return CONDITION_GRADES.get(grade, ("", ""))[0]


@register.filter
def grade_meaning(grade: str) -> str:
    return CONDITION_GRADES.get(grade, ("", ""))[1]
