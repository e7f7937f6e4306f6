"""How the marketplace writes prices and condition grades for Swedish buyers."""

from decimal import Decimal

from django import template

from items.forms import CONDITION_GRADES
from rheo import formatting

register = template.Library()


register.filter("sek", formatting.sek)  # the format of the whole product


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
