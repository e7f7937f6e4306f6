from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from items import grades
from items.models import Item, ItemImage
from items.payloads import MONEY, ItemInputSerializer  # noqa: F401 (views import it from here)
from rheo.fields import (
    StrictCharField,
    StrictDecimalField,
)
from tradera import guidance, relisting
from tradera.guidance_serializers import GuidanceSerializer


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


class RelistStateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="Whether the item's rules relist it.")
    relistCount = serializers.IntegerField(help_text="Relists made of its auction, in all.")
    maxRelists = serializers.IntegerField()
    previousTraderaAdId = serializers.CharField(
        allow_null=True, help_text="The auction the current one replaced."
    )
    nextPrice = serializers.IntegerField(allow_null=True, help_text="Whole SEK.")
    nextAt = serializers.DateTimeField(
        allow_null=True, help_text="When the next relist is due (after an unsold end)."
    )


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

    relist = serializers.SerializerMethodField(
        help_text="Relisting on Tradera (docs/tradera.md): the relists made, and the next "
        "one's price and time (null when none is coming); null before the item's first "
        "auction."
    )
    conditionGrade = serializers.SerializerMethodField(
        help_text="domain.conditionGrade as you sent it: your grade scale's code, or null."
    )
    canonicalGrade = serializers.SerializerMethodField(
        help_text="Rheo's grade (A–D) your code maps to: what buyers filter by. Null if none."
    )
    gradeText = serializers.SerializerMethodField(
        help_text="What buyers read about the grade (your scale's text, else Rheo's)."
    )
    guidance = serializers.SerializerMethodField(
        help_text="Price and time-to-sell guidance for this part (docs: Price guidance)."
    )

    def to_representation(self, item):
        body = super().to_representation(item)
        body["enhancedTitle"] = body["enhancedTitle"] or None
        body["enhancedDescription"] = body["enhancedDescription"] or None
        return body

    @extend_schema_field(GuidanceSerializer)
    def get_guidance(self, item) -> dict:
        # A page of items passes {"guidance": guidance.for_items(page)} in the context:
        # one query for the page; a single item looks its own rows up.
        found = self.context.get("guidance")
        row = found.get(item.pk) if found is not None else guidance.for_items([item])[item.pk]
        return guidance.as_json(row, item.price)

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

    @extend_schema_field(RelistStateSerializer(allow_null=True))
    def get_relist(self, item):
        # The partner's rules, read once for a page of items.
        cache = self.context.setdefault("relist_rules", {}) if self.context is not None else {}
        if item.partner_id not in cache:
            cache[item.partner_id] = relisting.partner_rules(item.partner_id)
        state = relisting.state_of(item, cache[item.partner_id])
        return None if state is None else RelistStateSerializer(state).data

    def get_conditionGrade(self, item) -> str | None:
        return item.condition_grade or None

    def get_canonicalGrade(self, item) -> str | None:
        return item.grade or None

    def get_gradeText(self, item) -> str | None:
        if not item.condition_grade:
            return None
        # One query per partner, however many items (a page of the listing).
        scales = self.context.setdefault("grade_texts", {})
        if item.partner_id not in scales:
            scales[item.partner_id] = grades.buyer_texts(item.partner_id)
        text = scales[item.partner_id].get(item.condition_grade)
        return text or grades.BUILTIN.get(item.grade, (None,))[0]

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
