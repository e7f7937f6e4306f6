"""The dashboard's filters: `{% load rheo %}` then `{{ amount|sek }}`, `{{ count|number }}`,
`{{ instant|when }}` (`{{ instant|when:"seconds" }}`), `{{ seconds|duration }}`. See
rheo.formatting."""

import json

from django import template

from rheo import formatting

register = template.Library()

register.filter("sek", formatting.sek)
register.filter("number", formatting.grouped)
register.filter("duration", formatting.duration)


@register.filter
def when(moment, precision: str = "") -> str:
    return formatting.when(moment, seconds=precision == "seconds")


@register.filter
def pretty_json(text: str) -> str:
    """A JSON body indented for reading; anything else as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return text
