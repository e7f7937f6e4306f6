"""Price guidance's rows and its hand-off, in the items layer so that a sale
(items.lifecycle.mark_item_sold) can queue its update in the sale's own transaction.
The figures are computed and read in tradera.guidance (the part category comes from
the Tradera category rules); see docs/operations.md, "Price guidance".

- PriceGuidance: one row per (level, key) with the aggregates of the completed sales
  there; the read path never touches the sales.
- GuidanceUpdate: a sold item whose keys are to be recomputed: written with the sale,
  nudged after commit, found by the sweeper if the nudge is lost, held by a lease while
  a worker recomputes, deleted once done.
"""

from django.db import models
from django.db.models import F, Func, IntegerField, Q, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Lower, NullIf, Replace, Trim, Upper
from django.utils import timezone

from rheo import celery

UPDATE_TASK = "tradera.update_price_guidance"


class PriceGuidance(models.Model):
    """The aggregates of completed sales at one level of one key (see tradera.guidance
    for the levels and how the key is made). Rows exist for every key with a sale; the
    read path shows only those with enough sales and sellers (the settings)."""

    class Level(models.IntegerChoices):
        OEM_GRADE = 1, "oem_grade"
        OEM = 2, "oem"
        VEHICLE_GRADE = 3, "vehicle_grade"
        VEHICLE = 4, "vehicle"

    level = models.PositiveSmallIntegerField(choices=Level.choices)
    key = models.CharField(max_length=500)
    sales = models.PositiveIntegerField(help_text="Completed sales: the sample size.")
    sellers = models.PositiveIntegerField(help_text="Distinct partners among the sales.")
    unsold = models.PositiveIntegerField(help_text="Items that left the marketplace unsold.")
    median_price = models.DecimalField(max_digits=12, decimal_places=2)
    p25_price = models.DecimalField(max_digits=12, decimal_places=2)
    p75_price = models.DecimalField(max_digits=12, decimal_places=2)
    median_days = models.FloatField(help_text="From the item's creation to its sale.")
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "key"], name="price_guidance_level_key")
        ]
        # The reads look keys up without their level (a page's keys of all levels at once).
        indexes = [models.Index(fields=["key"], name="price_guidance_key")]

    def __str__(self):
        return f"{self.get_level_display()} {self.key}: {self.sales} sales"

    @property
    def sell_through(self) -> float:
        return round(self.sales / (self.sales + self.unsold), 4)


class GuidanceUpdate(models.Model):
    """A sale whose guidance keys are still to be recomputed (the hand-off)."""

    item = models.OneToOneField("items.Item", on_delete=models.CASCADE, primary_key=True)
    due_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    nudged_at = models.DateTimeField(null=True, blank=True, default=timezone.now)

    def __str__(self):
        return f"guidance update for {self.item_id}"


def queue_update(item) -> None:
    """Inside the sale's transaction: the item's keys are recomputed once it commits (a
    nudge), or by the sweeper should the nudge be lost. Test-mode sales are no evidence."""
    if not item.livemode:
        return
    GuidanceUpdate.objects.update_or_create(
        item_id=item.pk,
        defaults={"due_at": timezone.now(), "nudged_at": timezone.now(), "locked_until": None},
    )
    celery.nudge_on_commit(UPDATE_TASK, str(item.pk))


# --- What a sale is grouped by -----------------------------------------------------------
# The keys are Django expressions, so PostgreSQL and SQLite group alike, and python_keys
# below makes the same keys from an item in memory (the read path). Keep them in step.


def canonical_grade_expression():
    """THE one place guidance reads an item's canonical grade (A to D) from: `Item.grade`,
    Rheo's grade the partner's code maps to (items.grades); null when the item has none."""
    return NullIf(F("grade"), Value(""))


def canonical_grade(item) -> str:
    """canonical_grade_expression for an item in memory."""
    return item.grade or ""


OEM_SEPARATORS = (" ", "-", ".", "/")


def normalised_oem(code: str | None) -> str:
    """An OEM code without spaces, dashes, dots and slashes, upper case: "8k0-615 123"
    and "8K0615123" are one part."""
    code = (code or "").upper()
    for sep in OEM_SEPARATORS:
        code = code.replace(sep, "")
    return code


def oem_expression():
    expression: Func = KT("domain__oemCode")
    for sep in OEM_SEPARATORS:
        expression = Replace(expression, Value(sep), Value(""), output_field=TextField())
    return Upper(expression)


def vehicle_expressions():
    """The manufacturer and the first compatible model, lower case."""
    return Lower(Trim(KT("domain__manufacturer"))), Lower(Trim(KT("domain__compatibleModels__0")))


def key_expressions(year_band: int) -> dict:
    """The columns a sale is grouped by (besides the category, which the Tradera category
    rules give: tradera.guidance). Items has indexes on the OEM code's and the vehicle's
    (items.models.Item.Meta), which a sale's update filters on."""
    make, model = vehicle_expressions()
    return {
        "g_oem": oem_expression(),
        "g_grade": canonical_grade_expression(),
        "g_make": make,
        "g_model": model,
        # Integer division on both databases: 2013 → 2010 with a band of 5.
        "g_band": Cast(KT("domain__donorVehicleYear"), IntegerField()) / year_band * year_band,
    }


def python_keys(item, year_band: int) -> dict:
    part = item.part
    models_ = part.get("compatibleModels") or []
    year = part.get("donorVehicleYear")
    return {
        "g_oem": normalised_oem(part.get("oemCode")) or None,
        "g_grade": canonical_grade(item) or None,
        "g_make": (part.get("manufacturer") or "").strip().lower() or None,
        "g_model": (models_[0] if models_ else "").strip().lower() or None,
        "g_band": (int(year) // year_band * year_band) if year else None,
    }


# Completed sales (a platform sale through Rheo) and the items that left unsold, as
# portal.analytics counts them; live items only (test-mode sales are no evidence).
SALE = Q(sold_at__isnull=False, sale_price__isnull=False)
UNSOLD = (
    Q(status="not_listed")
    | Q(status="sold", sold_at__isnull=True)
    | Q(status="active", deleted_at__isnull=False)
)
OUTCOME = Q(livemode=True) & (SALE | UNSOLD)
