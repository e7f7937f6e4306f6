from collections.abc import Mapping
from datetime import date
from typing import Any, cast

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from items.models import Item, ItemImage
from items.services import ItemContent
from rheo import outbound
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
    conditionGrade = serializers.ChoiceField(
        choices=sorted(CONDITION_GRADES),
        required=False,
        allow_null=True,
        help_text="; ".join(f"{g}: {meaning}" for g, meaning in CONDITION_GRADES.items()),
        error_messages={"invalid_choice": "Unknown grade {input!r}; use A, B, C or D."},
    )


class ItemInputSerializer(serializers.Serializer):
    """The body of PUT /integration/v1/items/:external_id. Unknown keys are ignored.
    Image URLs: exactly one of imageUrls, images, image_urls."""

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
        )


class PriceInputSerializer(serializers.Serializer):
    price = StrictDecimalField(
        min_value=1, max_value=99_999_999, help_text=f"New price in SEK, 1 or more. {MONEY}"
    )


class StatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[Item.Status.NOT_LISTED, Item.Status.SOLD],
        error_messages={"invalid_choice": "{input!r} is not accepted; use not_listed or sold."},
    )


class SimulateInputSerializer(serializers.Serializer):
    event = serializers.ChoiceField(
        choices=["sold", "ended", "failed"],
        help_text="sold: the auction sells; ended: it ends unsold; failed: the listing fails.",
    )
    salePrice = StrictDecimalField(
        required=False,
        min_value=1,
        max_value=99_999_999,
        help_text=f"For sold; default: price. {MONEY}",
    )
    errorCode = StrictCharField(
        required=False, max_length=40, help_text="For failed; default tradera_refused."
    )


class AcceptedSerializer(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    itemId = serializers.UUIDField(help_text="Rheo's id for the item (rheoItemId).")
    message = serializers.CharField()


# Item fields as the API names them, for changedFields.
API_FIELD_NAMES = {
    "title": "title",
    "description": "description",
    "price": "price",
    "shipping_cost": "shippingCost",
    "weight_kg": "weightKg",
    "currency": "currency",
    "image_urls": "imageUrls",
    "domain": "domain",
    "use_ai_enhancement": "useAiEnhancement",
}
CHANGED_FIELDS_HELP = "On updated: the fields whose values change, as the PUT names them."


def api_field_names(names) -> list[str]:
    return [API_FIELD_NAMES[name] for name in names]


class PutAnswerSerializer(AcceptedSerializer):
    """The answer to a PUT: 202 when written, 200 for validateOnly."""

    itemId = serializers.UUIDField(
        allow_null=True,
        help_text="Rheo's id for the item (rheoItemId); null when validateOnly would create it.",
    )
    outcome = serializers.ChoiceField(
        choices=["created", "updated", "unchanged", "stale"],
        help_text="stale: the sourceVersion is lower than the stored one; nothing changed.",
    )
    changedFields = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=CHANGED_FIELDS_HELP
    )
    validateOnly = serializers.BooleanField(
        required=False, help_text="Present (true) on a validateOnly answer: nothing was written."
    )


class HostedImageSerializer(serializers.Serializer):
    url = serializers.SerializerMethodField(help_text="The hosted image: JPEG, at most 2048 px.")
    thumbnailUrl = serializers.SerializerMethodField(help_text="At most 400 px.")
    width = serializers.IntegerField(source="stored.width")
    height = serializers.IntegerField(source="stored.height")
    sourceUrl = serializers.CharField(source="source_url", help_text="The URL you sent.")

    def get_url(self, image) -> str:
        return self._absolute(image.stored.full_url)

    def get_thumbnailUrl(self, image) -> str:
        return self._absolute(image.stored.thumbnail_url)

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ItemIssueSerializer(serializers.Serializer):
    code = serializers.CharField(source="error_code", help_text="e.g. image_download_failed")
    message = serializers.CharField(source="error_message")
    field = serializers.SerializerMethodField(
        help_text="The request field, e.g. imageUrls[1]; null for Tradera's issues."
    )

    def get_field(self, image) -> str | None:
        return f"imageUrls[{image.position}]"


class ItemOutputSerializer(serializers.Serializer):
    externalId = serializers.CharField(source="external_id")
    rheoItemId = serializers.UUIDField(source="id")
    rheoStatus = serializers.ChoiceField(source="status", choices=Item.Status.choices)
    traderaStatus = serializers.SerializerMethodField()
    traderaAdId = serializers.SerializerMethodField()
    traderaAdUrl = serializers.SerializerMethodField()
    price = StrictDecimalField()
    title = serializers.CharField(help_text="Your title, as you sent it.")
    description = serializers.CharField(help_text="Your description, as you sent it.")
    enhancedTitle = serializers.CharField(
        source="enhanced_title",
        allow_null=True,
        help_text="With useAiEnhancement: the title the marketplace and Tradera show.",
    )
    enhancedDescription = serializers.CharField(source="enhanced_description", allow_null=True)
    images = serializers.SerializerMethodField(help_text="The hosted images, in your order.")
    issues = serializers.SerializerMethodField(help_text="Image URLs that failed for good.")
    sourceVersion = serializers.IntegerField(
        source="source_version",
        allow_null=True,
        help_text="The highest sourceVersion written; null if none was ever sent.",
    )

    def to_representation(self, item):
        body = super().to_representation(item)
        body["enhancedTitle"] = body["enhancedTitle"] or None
        body["enhancedDescription"] = body["enhancedDescription"] or None
        return body

    @extend_schema_field(HostedImageSerializer(many=True))
    def get_images(self, item):
        ready = [i for i in item.images.all() if i.status == ItemImage.Status.READY]
        return HostedImageSerializer(ready, many=True, context=self.context).data

    @extend_schema_field(ItemIssueSerializer(many=True))
    def get_issues(self, item):
        failed = [i for i in item.images.all() if i.status == ItemImage.Status.FAILED]
        # A list (many=True); the stubs type every Serializer's data as a dict.
        issues: list = ItemIssueSerializer(failed, many=True).data  # type: ignore[assignment]
        listing = self._listing(item)
        for issue in listing.issues if listing else []:  # what Tradera refused
            issues.append({**issue, "field": None})
        if listing and listing.waiting_for_quota:
            issues.append(
                {
                    "code": "tradera_quota_wait",
                    "message": "Tradera's call quota is spent for now; the auction is published "
                    f"when it allows (next try {listing.next_attempt_at:%Y-%m-%dT%H:%M:%SZ}).",
                    "field": None,
                }
            )
        if listing and listing.retrying:
            issues.append(
                {
                    "code": listing.error_code,
                    "message": f"Tradera did not take the auction yet ({listing.error_message}); "
                    "Rheo tries again until it does "
                    f"(next try {listing.next_attempt_at:%Y-%m-%dT%H:%M:%SZ}).",
                    "field": None,
                }
            )
        return issues

    @staticmethod
    def _listing(item):
        return getattr(item, "tradera_listing", None)

    def get_traderaStatus(self, item) -> str | None:
        listing = self._listing(item)
        return listing.status if listing else None

    def get_traderaAdId(self, item) -> str | None:
        listing = self._listing(item)
        return listing.ad_id if listing else None

    def get_traderaAdUrl(self, item) -> str | None:
        listing = self._listing(item)
        return listing.ad_url if listing else None
