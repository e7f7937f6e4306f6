"""A partner's own grade scale (docs/integration-api.md, "Condition grades").

A partner grades parts with its own codes (A*, 3, "Bra"…); each code maps to Rheo's
canonical grade (A–D), a short Swedish text for buyers and the condition wording of its
Tradera auctions. Items keep the partner's code in `domain.conditionGrade` and carry the
canonical grade in `Item.grade`, which search, filters and analytics read.

A partner without a scale (no GradeCode rows) sends Rheo's own grades, as before.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from items.models import CANONICAL_GRADES, GradeCode, Item, ItemActivity
from partners.models import Partner
from rheo.errors import ServiceError

MAX_CODES = 50

# Rheo's own grades as buyers and Tradera read them, for partners without a scale (and
# codes of theirs without a scale entry): (buyer text, Tradera wording).
BUILTIN = {
    "A": ("Mycket gott skick", "Mycket bra skick, lite eller inget slitage."),
    "B": ("Gott skick", "Bra skick, normalt slitage för åldern, fullt fungerande."),
    "C": ("Godtagbart skick", "Godtagbart skick, synligt slitage eller kosmetiska skador."),
    "D": ("För reparation eller delar", "För reparation eller reservdel, skadad eller otestad."),
}

# A partner's scale as validation reads it: code → canonical grade; None: no scale.
Scale = dict[str, str] | None


@dataclass(frozen=True)
class GradeSpec:
    """One code of a scale as the partner defines it."""

    code: str
    canonical: str
    buyer_text: str
    tradera_wording: str


@dataclass(frozen=True)
class GradeMeaning:
    """What an item's code means now: its canonical grade and texts."""

    code: str
    canonical: str
    buyer_text: str
    tradera_wording: str
    from_scale: bool  # False: Rheo's own grade (no scale, or a code no longer in it)


def codes_of(partner: Partner) -> list[GradeCode]:
    return list(GradeCode.objects.filter(partner=partner))


def scale_of(partner: Partner) -> Scale:
    """The partner's scale for validation (one query), None when it has none."""
    rows = GradeCode.objects.filter(partner=partner).values_list("code", "canonical")
    return dict(rows) or None


def buyer_texts(partner_id) -> dict[str, str]:
    """code → buyer text of the partner's scale ({} without one)."""
    return dict(GradeCode.objects.filter(partner_id=partner_id).values_list("code", "buyer_text"))


def canonical_grade(scale: Scale, code: str | None) -> str:
    """The canonical grade of `code` under `scale` ("" for no code or an unknown one)."""
    if not code:
        return ""
    if scale is None:
        return code if code in CANONICAL_GRADES else ""
    return scale.get(code, "")


def spelled_as_in(scale: Scale, code: str) -> str:
    """`code` as the scale spells it, matched without regard to case ("bra" is "Bra"; the
    stock import upper-cases grades), when that names one code; else `code`. Rheo's own
    grades (no scale) are matched exactly, as they always were."""
    if scale is None or code in scale:
        return code
    matches = [known for known in scale if known.casefold() == code.casefold()]
    return matches[0] if len(matches) == 1 else code


def builtin_grade(domain: dict | None) -> str:
    """The canonical grade of a domain under Rheo's own grades (no scale)."""
    return canonical_grade(None, (domain or {}).get("conditionGrade"))


def unknown_code_message(scale: Scale, code: str) -> str:
    if scale is None:
        return f"Unknown grade {code!r}; use A, B, C or D."
    return f"Unknown grade {code!r}; your grade scale's codes are: {', '.join(scale)}."


def meaning_of(item: Item) -> GradeMeaning | None:
    """What the item's grade code means now (one query when the partner has a scale
    entry for it): the marketplace page and the Tradera auction text read it."""
    code = item.condition_grade
    if not code:
        return None
    row = GradeCode.objects.filter(partner_id=item.partner_id, code=code).first()
    if row is not None:
        return GradeMeaning(code, row.canonical, row.buyer_text, row.tradera_wording, True)
    canonical = item.grade or canonical_grade(None, code)
    if not canonical:
        return None
    buyer_text, wording = BUILTIN[canonical]
    return GradeMeaning(code, canonical, buyer_text, wording, False)


@dataclass(frozen=True)
class ScaleChange:
    codes: list[GradeCode]
    changed_codes: tuple[str, ...]  # codes whose meaning changed (new ones included)
    affected_items: int  # items re-described, one timeline line each


def replace_grade_scale(*, partner: Partner, grades: Sequence[GradeSpec]) -> ScaleChange:
    """Make `grades` the partner's scale (empty: no scale, Rheo's grades again).

    Every current item whose code now means something else takes the new canonical grade
    (Item.grade) and gets one timeline line, written in bulk. Its marketplace page and its
    next auction read the new texts; running auctions keep theirs (Tradera cannot update
    them). Items whose code left the scale keep their canonical grade; their next PUT must
    send a valid code. The partner row is locked, so two changes apply one after the other."""
    _check(grades)
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        old = {
            row.code: (row.canonical, row.buyer_text, row.tradera_wording)
            for row in GradeCode.objects.filter(partner=partner)
        }
        new = {g.code: (g.canonical, g.buyer_text, g.tradera_wording) for g in grades}
        # Without a scale, the codes of the old one that are Rheo's grades mean those again.
        candidates = new if grades else old
        changed = [
            GradeSpec(code, *after)
            for code in candidates
            if (after := _meaning(code, new)) is not None and after != _meaning(code, old)
        ]
        GradeCode.objects.filter(partner=partner).delete()
        rows = GradeCode.objects.bulk_create(
            GradeCode(
                partner=partner,
                code=g.code,
                canonical=g.canonical,
                buyer_text=g.buyer_text,
                tradera_wording=g.tradera_wording,
                position=i,
            )
            for i, g in enumerate(grades)
        )
        affected = sum(_redescribe(partner, g) for g in changed)
    return ScaleChange(rows, tuple(g.code for g in changed), affected)


def _check(grades: Sequence[GradeSpec]) -> None:
    fields: dict[str, list[str]] = {}
    if len(grades) > MAX_CODES:
        fields["grades"] = [f"A scale has at most {MAX_CODES} codes."]
    seen: set[str] = set()
    for i, g in enumerate(grades):
        if g.code in seen:
            fields[f"grades[{i}].code"] = [f"Code {g.code!r} is given twice."]
        seen.add(g.code)
        if g.canonical not in CANONICAL_GRADES:
            fields[f"grades[{i}].canonicalGrade"] = ["Must be A, B, C or D."]
    if fields:
        first = next(iter(fields.values()))[0]
        raise ServiceError("validation_error", first, fields=fields)


def _meaning(code: str, scale: dict[str, tuple[str, str, str]]) -> tuple[str, str, str] | None:
    """What `code` means under a scale (code → canonical, buyer text, wording): its entry,
    else Rheo's own grade of that name, else nothing."""
    if code in scale:
        return scale[code]
    return (code, *BUILTIN[code]) if code in BUILTIN else None


def _redescribe(partner: Partner, spec: GradeSpec) -> int:
    """Items with `spec.code` take its canonical grade, each with a timeline line."""
    items = Item.objects.filter(
        partner=partner, deleted_at__isnull=True, domain__conditionGrade=spec.code
    )
    ids = list(items.values_list("pk", flat=True))
    if not ids:
        return 0
    now = timezone.now()
    Item.objects.filter(pk__in=ids).update(grade=spec.canonical, updated_at=now)
    message = (
        f"Grade {spec.code} now means {spec.canonical}: «{spec.buyer_text}»; Tradera wording "
        f"«{spec.tradera_wording}». Running auctions keep their text."
    )[:500]
    ItemActivity.objects.bulk_create(
        (ItemActivity(item_id=pk, kind="grade", message=message, at=now) for pk in ids),
        batch_size=1000,
    )
    return len(ids)
