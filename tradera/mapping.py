"""An item as a Tradera auction: title, category, description, shipping, references."""

import math

from django.conf import settings
from django.db import connection

from items import grades
from items.enhancer import part_facts, shorten
from items.models import Item
from tradera.client import MAX_DESCRIPTION, MAX_TITLE, NewAuction, Shipping
from tradera.models import CategoryRule

OTHER_PARTS = 343434
OTHER_PARTS_NAME = "Övriga reservdelar"


def auction_for(item: Item) -> NewAuction:
    return NewAuction(
        title=shorten(item.display_title, MAX_TITLE),
        description=description_for(item),
        category_id=category_for(item),
        duration_days=settings.TRADERA_AUCTION_DAYS,
        # Tradera takes whole kronor; never open below what the partner asked.
        start_price=math.ceil(item.price),
        shipping=(
            Shipping(
                option_id=settings.TRADERA_SHIPPING_OPTION_ID,
                cost=math.ceil(item.shipping_cost),
                weight_kg=item.weight_kg,
            ),
        ),
        own_references=(str(item.id),),
    )


def category_for(item: Item) -> int:
    words = item.title.lower()
    # Two columns, not model instances: every publish reads every rule.
    for keyword, category_id in CategoryRule.objects.values_list("keyword", "category_id"):
        if keyword.lower() in words:
            return category_id
    return OTHER_PARTS


def with_category_sql(items_sql: str) -> str:
    """category_for in SQL, for aggregates over many items: the rows of `items_sql` (which
    must select `id` and `title`) with the `category_id` and `category_name` of the first
    rule (by position, keyword) whose keyword is in the title, case-insensitively; NULL
    where none is (then OTHER_PARTS). One join and a window, whatever the number of items.
    Keep it in step with category_for. (SQLite lowers ASCII letters only: there a title's
    capital Å, Ä or Ö matches no lower-case keyword; PostgreSQL lowers them.)"""
    ops = connection.ops
    rules = ops.quote_name(CategoryRule._meta.db_table)
    contains = (
        "strpos(LOWER(i.title), LOWER(r.keyword)) > 0"
        if connection.vendor == "postgresql"
        else "instr(LOWER(i.title), LOWER(r.keyword)) > 0"
    )
    return (
        "SELECT * FROM (SELECT i.*, r.category_id, r.category_name, ROW_NUMBER() OVER "  # noqa: S608
        "(PARTITION BY i.id ORDER BY r.position, r.keyword) AS rule_rank "
        f"FROM ({items_sql}) AS i LEFT JOIN {rules} AS r ON {contains}) AS categorised "
        "WHERE rule_rank = 1"
    )


def description_for(item: Item) -> str:
    """The item's text, then the facts Tradera has no field for (its condition is only
    new or used). The condition is the partner's grade scale's wording for its code, read
    at publish: a changed mapping reaches the next auction, never a running one."""
    parts = [item.display_description.strip()]
    meaning = grades.meaning_of(item)
    wording = meaning.tradera_wording if meaning and meaning.from_scale else None
    if not item.enhanced_description:  # the enhanced text states the facts already
        parts.append("\n".join(part_facts(item.domain or {}, wording)))
    elif wording:  # …but not the scale's wording, which the enhancer does not know
        parts.append(f"Skick {item.condition_grade}: {wording}")
    return shorten("\n\n".join(p for p in parts if p), MAX_DESCRIPTION)
