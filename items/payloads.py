"""An item's body as the Integration API takes it (PUT /integration/v1/items/:external_id
and each entry of the batch), validated into ItemContent. It lives here, below the APIs, so
the dashboard's stock import validates its rows with exactly the PUT's rules."""

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from items import grades
from items.batch import BatchItem
from items.services import ItemContent
from rheo import outbound
from rheo.errors import validation_error
from rheo.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictDecimalField,
    StrictIntegerField,
)

MAX_IMAGES = 10
IMAGE_URL_ALIASES = ("imageUrls", "images", "image_urls")
CONDITION_GRADES = {
    "A": "Very good: little or no wear.",
    "B": "Good: normal wear for its age, fully working.",
    "C": "Acceptable: visible wear or cosmetic damage, working.",
    "D": "For repair or parts: damaged or untested.",
}
SUPPORTED_DOMAINS = ("automotive_part",)
MONEY = "A JSON number with at most 2 decimals (12 digits in all)."
MAX_SOURCE_VERSION = 2**63 - 1  # PostgreSQL's bigint


@extend_schema_field(
    {
        "type": "string",
        "format": "uri",
        "pattern": "^https://",
        "maxLength": outbound.MAX_URL_LENGTH,
        "description": outbound.URL_RULE,
    }
)
class ImageUrlField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=outbound.MAX_URL_LENGTH, **kwargs)

    def to_internal_value(self, data):
        url = super().to_internal_value(data)
        try:
            outbound.check_url(url)
        except outbound.UnsafeURL as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return url


def image_url_list(**kwargs):
    return serializers.ListField(
        child=ImageUrlField(),
        min_length=1,
        max_length=MAX_IMAGES,
        error_messages={
            "not_a_list": "Must be a list of image URLs.",
            "min_length": "Give at least one image URL.",
            "max_length": f"Give at most {MAX_IMAGES} image URLs.",
        },
        **kwargs,
    )


class GradeCodeField(StrictCharField):
    """A grade code: a string, or a whole number for numbered scales (3 is "3")."""

    def __init__(self, **kwargs):
        super().__init__(max_length=20, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        return super().to_internal_value(data)


class AutomotivePartSerializer(serializers.Serializer):
    domain = serializers.ChoiceField(
        choices=SUPPORTED_DOMAINS,
        error_messages={"invalid_choice": "Unknown domain {input!r}; supported: automotive_part."},
    )
    oemCode = StrictCharField(max_length=100, required=False, allow_blank=True)
    manufacturer = StrictCharField(max_length=100, required=False, allow_blank=True)
    compatibleModels = serializers.ListField(
        child=StrictCharField(max_length=100), max_length=100, required=False
    )
    donorVehicleYear = StrictIntegerField(
        min_value=1900, max_value=date.today().year + 1, required=False, allow_null=True
    )
    conditionGrade = GradeCodeField(
        required=False,
        allow_null=True,
        help_text="Your grade scale's code when you have defined one (GET /api/v1/grade-scale; "
        "a number is taken as its text), else Rheo's grades: "
        + "; ".join(f"{g}: {meaning}" for g, meaning in CONDITION_GRADES.items()),
    )

    def validate_conditionGrade(self, value):
        if value is None:
            return value
        scale = self.root.context.get("grade_scale")
        value = grades.spelled_as_in(scale, value)
        if not grades.canonical_grade(scale, value):
            raise serializers.ValidationError(grades.unknown_code_message(scale, value))
        return value


class RelistSerializer(serializers.Serializer):
    """Relist rules (docs/tradera.md, "Relisting"): the partner's, and an item's override
    of them (the PUT's `relist` object, where every key is optional)."""

    enabled = StrictBooleanField(required=False)
    maxRelists = StrictIntegerField(
        min_value=0, max_value=20, required=False, help_text="Relists after the first auction."
    )
    stepPercent = StrictDecimalField(
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="The step down, in % of the first price. Or stepAmount.",
    )
    stepAmount = StrictDecimalField(
        min_value=0,
        max_value=99_999_999,
        required=False,
        allow_null=True,
        help_text="The step down in SEK. Or stepPercent.",
    )
    floorPrice = StrictDecimalField(
        min_value=1,
        max_value=99_999_999,
        required=False,
        allow_null=True,
        help_text="The lowest price in SEK. Or floorPercent.",
    )
    floorPercent = StrictDecimalField(
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="The lowest price, in % of the first price. Or floorPrice.",
    )
    waitHours = StrictIntegerField(
        min_value=0, max_value=24 * 60, required=False, help_text="Wait after an unsold end."
    )
    marketplaceOnlyAtFloor = StrictBooleanField(
        required=False,
        help_text="At the floor: stop relisting and keep the item on Rheo's marketplace only "
        "(true), or relist at the floor until maxRelists (false).",
    )

    def validate(self, attrs):
        errors = {}
        for one, other in (("stepPercent", "stepAmount"), ("floorPrice", "floorPercent")):
            if attrs.get(one) is not None and attrs.get(other) is not None:
                errors[other] = [f"Give {one} or {other}, not both."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def relist_json(attrs) -> dict:
    """Validated relist rules as stored on the item: JSON numbers, not Decimals."""
    return {
        name: (int(value) if value == value.to_integral_value() else float(value))
        if isinstance(value, Decimal)
        else value
        for name, value in attrs.items()
    }


class ItemInputSerializer(serializers.Serializer):
    """The body of PUT /integration/v1/items/:external_id. Unknown keys are ignored.
    Image URLs: exactly one of imageUrls, images, image_urls. The context's `grade_scale`
    (items.grades.scale_of) is the partner's grade scale; without it, Rheo's grades."""

    title = StrictCharField(max_length=255)
    description = StrictCharField(
        required=False, allow_blank=True, default="", trim_whitespace=False
    )
    price = StrictDecimalField(
        min_value=1, max_value=99_999_999, help_text=f"In SEK, 1 or more. {MONEY}"
    )
    shippingCost = StrictDecimalField(
        min_value=0, max_value=99_999_999, help_text=f"In SEK, 0 or more. {MONEY}"
    )
    weightKg = StrictDecimalField(
        max_digits=9, decimal_places=3, min_value=0, required=False, allow_null=True
    )
    currency = StrictCharField(required=False, default="SEK", help_text="Only SEK is supported.")
    imageUrls = image_url_list(
        required=False,
        help_text=f"HTTPS image URLs, 1 to {MAX_IMAGES}. Required, under this name or an alias.",
    )
    images = image_url_list(required=False, help_text="Alias of imageUrls.")
    image_urls = image_url_list(required=False, help_text="Alias of imageUrls.")
    domain = AutomotivePartSerializer(required=False, allow_null=True)
    autoPublishTradera = StrictBooleanField(
        required=False, default=False, help_text="Applied only when the item is created."
    )
    useAiEnhancement = StrictBooleanField(required=False, default=False)
    relist = RelistSerializer(
        required=False,
        allow_null=True,
        help_text="Overrides your relist rules for this item (docs/tradera.md); omitted or "
        "null: your rules as they are.",
    )
    sourceVersion = StrictIntegerField(
        min_value=0,
        max_value=MAX_SOURCE_VERSION,
        required=False,
        allow_null=True,
        help_text="Your version of the item (a row version, a time in ms), increasing with "
        "every change. A write whose sourceVersion is lower than the stored one is stale "
        "and changes nothing. Optional; equal versions pass.",
    )

    def validate_currency(self, value):
        if value != "SEK":
            raise serializers.ValidationError(f"Only SEK is supported; got {value!r}.")
        return value

    def to_internal_value(self, data):
        """Field errors and the image-alias rule are reported together, so one response
        names every bad field."""
        errors: dict[str, Any] = {}
        attrs: dict[str, Any] = {}
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # A serializer's errors are by field; the stubs allow any error detail.
            errors = dict(cast(Mapping[str, Any], exc.detail))
        if isinstance(data, Mapping):
            given = [name for name in IMAGE_URL_ALIASES if name in data]
            if not given:
                errors.setdefault("imageUrls", ["This field is required."])
            elif len(given) > 1:
                message = f"Give image URLs once: {', '.join(given)} are aliases of one field."
                for name in given:
                    errors[name] = [*errors.get(name, []), message]
        if errors:
            raise serializers.ValidationError(errors)
        attrs["imageUrls"] = next(attrs.pop(n) for n in IMAGE_URL_ALIASES if n in attrs)
        code = (attrs.get("domain") or {}).get("conditionGrade")
        attrs["canonicalGrade"] = grades.canonical_grade(self.context.get("grade_scale"), code)
        return attrs

    def to_content(self) -> ItemContent:
        return self.content_of(self.validated_data)

    @staticmethod
    def content_of(data) -> ItemContent:
        """The item's content from this serializer's validated data."""
        return ItemContent(
            title=data["title"],
            description=data["description"],
            price=data["price"],
            shipping_cost=data["shippingCost"],
            weight_kg=data.get("weightKg"),
            currency=data["currency"],
            image_urls=tuple(data["imageUrls"]),
            domain=dict(data["domain"]) if data.get("domain") else None,
            use_ai_enhancement=data["useAiEnhancement"],
            relist=relist_json(data["relist"]) if data.get("relist") else None,
            grade=data.get("canonicalGrade"),
        )


class BatchItemInputSerializer(ItemInputSerializer):
    """One item of a batch: the PUT's body with its external id."""

    externalId = StrictCharField(
        max_length=255,
        trim_whitespace=False,
        help_text="Your id of the item, as in the PUT's path.",
    )

    def validate_externalId(self, value):
        if "/" in value:
            raise serializers.ValidationError("Must not contain '/'.")
        return value


def batch_items(entries: list, grade_scale: grades.Scale = None) -> list[BatchItem]:
    """A batch's entries, each validated on its own as its PUT's body would be.

    One serializer instance validates them all, as DRF's ListSerializer does with its
    child: building a serializer deep-copies its declared fields, which was most of an
    entry's validation time (bench/README.md, "Import benchmark")."""
    serializer = BatchItemInputSerializer(context={"grade_scale": grade_scale})
    return [batch_item(entry, serializer) for entry in entries]


def batch_item(entry, serializer: BatchItemInputSerializer | None = None) -> BatchItem:
    """One entry of a batch, validated on its own as its PUT's body would be, by
    `serializer` when given (one instance reused over many entries: batch_items). Its
    errors are what is_valid() would report."""
    sent_id = entry.get("externalId") if isinstance(entry, dict) else None
    external_id = sent_id if isinstance(sent_id, str) else None
    serializer = serializer or BatchItemInputSerializer()
    try:
        data = serializer.run_validation(entry)
    except (serializers.ValidationError, DjangoValidationError) as exc:
        errors = serializers.as_serializer_error(exc)
        return BatchItem(external_id, error=validation_error(errors))
    return BatchItem(
        external_id,
        content=serializer.content_of(data),
        auto_publish_tradera=data["autoPublishTradera"],
        source_version=data.get("sourceVersion"),
    )
