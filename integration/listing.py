"""GET /integration/v1/items: pages of the caller's items, in the GET item shape.

Pages follow the external id (immutable for an item, unique among current ones), so a
page's cursor is the last external id shown: an item updated between two page requests
keeps its place, and none is skipped or shown twice. The cursor is signed, so one the
client did not get from us is a 400 rather than a silent position."""

from datetime import UTC

from django.core import signing
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from integration.base import MAX_EXTERNAL_ID_LENGTH, IntegrationAPIView
from integration.serializers import ItemOutputSerializer
from integration.views import EXAMPLE_OUTPUT
from items import selectors
from items.models import CANONICAL_GRADES, Item
from rheo.fields import StrictCharField
from rheo.schema import error_responses
from tradera import guidance
from tradera.models import TraderaListing

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_EXTERNAL_IDS = 100
CURSOR_SALT = "integration.items.cursor"
INVALID_CURSOR = "Invalid cursor: pass back a page's nextCursor unchanged."


class ItemListQuerySerializer(serializers.Serializer):
    """The query string; an empty filter filters nothing, unknown parameters are ignored."""

    rheoStatus = serializers.ChoiceField(
        choices=Item.Status.values, required=False, allow_blank=True
    )
    traderaStatus = serializers.ChoiceField(
        choices=[*TraderaListing.Status.values, "none"],
        required=False,
        allow_blank=True,
        help_text="A Tradera listing status, or `none`: items with no Tradera listing.",
    )
    grade = serializers.ChoiceField(
        choices=list(CANONICAL_GRADES),
        required=False,
        allow_blank=True,
        help_text="Rheo's canonical grade (A–D): items whose conditionGrade maps to it, "
        "through your grade scale when you have one.",
    )
    updatedSince = serializers.DateTimeField(
        required=False,
        default_timezone=UTC,
        help_text="ISO-8601; items changed at or after it (a time without an offset is UTC).",
    )
    q = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Part of the title, the OEM code or the external id, any case.",
    )
    externalIds = StrictCharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"Comma-separated external ids, at most {MAX_EXTERNAL_IDS}.",
    )
    cursor = StrictCharField(
        required=False, allow_blank=True, help_text="A page's nextCursor; 400 if not one of ours."
    )
    limit = serializers.CharField(required=False)

    def validate(self, attrs):
        # DRF skips an empty value of an optional field; an empty date is still no date.
        if self.initial_data.get("updatedSince") == "":
            raise serializers.ValidationError({"updatedSince": ["Give an ISO-8601 date-time."]})
        return attrs

    def validate_externalIds(self, value: str) -> tuple[str, ...] | None:
        if not value:
            return None
        ids = tuple(dict.fromkeys(i for i in value.split(",") if i))
        if len(ids) > MAX_EXTERNAL_IDS:
            raise serializers.ValidationError(
                f"Give at most {MAX_EXTERNAL_IDS} external ids; got {len(ids)}."
            )
        if any(len(i) > MAX_EXTERNAL_ID_LENGTH for i in ids):
            raise serializers.ValidationError(
                f"An external id has at most {MAX_EXTERNAL_ID_LENGTH} characters."
            )
        return ids

    def validate_cursor(self, value: str) -> str | None:
        if not value:
            return None
        try:
            after = signing.loads(value, salt=CURSOR_SALT)
        except signing.BadSignature:
            raise serializers.ValidationError(INVALID_CURSOR) from None
        if not isinstance(after, str):
            raise serializers.ValidationError(INVALID_CURSOR)
        return after

    def validate_limit(self, value: str) -> int:
        # Refused rather than quietly clamped, as for the deliveries' pages.
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_LIMIT):
            raise serializers.ValidationError(f"Must be an integer from 1 to {MAX_LIMIT}.")
        return int(value)


def next_cursor(external_id: str) -> str:
    return signing.dumps(external_id, salt=CURSOR_SALT)


ItemPageSerializer = inline_serializer(
    "ItemPage",
    {
        "items": ItemOutputSerializer(many=True),
        "nextCursor": serializers.CharField(
            allow_null=True,
            help_text="Pass as ?cursor= for the next page; null on the last page.",
        ),
    },
)

EXAMPLE_CURSOR = "IjEyMzQ1Ig:1tJm0f:0b3mQz7kq6bC1n4v8RzB5yK9aWd2eXo3pLs7uTgHhJc"


class ItemListView(IntegrationAPIView):
    rate_limit_tiers = {"GET": "read"}

    @extend_schema(
        operation_id="listItems",
        summary="List and search your items",
        description=(
            "This key's partner and mode, deleted items left out; each in the shape of "
            "getItem. Ordered by external id; pages of `limit` (1 to 200, default 50): pass "
            "the answer's `nextCursor` back as `cursor` with the same filters; it is null on "
            "the last page. An item that existed when you started paging is on exactly one "
            "page, however items change meanwhile. An unknown filter value, a bad date, more "
            f"than {MAX_EXTERNAL_IDS} external ids or a cursor not from us is a 400."
        ),
        parameters=[
            ItemListQuerySerializer,
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                description=f"Page size, default {DEFAULT_LIMIT}.",
            ),
        ],
        responses={200: ItemPageSerializer, **error_responses(400, 401, 429)},
        examples=[
            OpenApiExample(
                "A page",
                value={"items": [EXAMPLE_OUTPUT], "nextCursor": EXAMPLE_CURSOR},
                response_only=True,
            )
        ],
        tags=["Items"],
    )
    def get(self, request):
        query = ItemListQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise serializers.ValidationError(query.errors)
        params = query.validated_data
        limit = params.get("limit") or DEFAULT_LIMIT
        filters = selectors.ItemFilter(
            text=params.get("q", ""),
            status=params.get("rheoStatus", ""),
            tradera_status=params.get("traderaStatus", ""),
            updated_since=params.get("updatedSince"),
            external_ids=params.get("externalIds"),
            grade=params.get("grade", ""),
        )
        items = selectors.partner_items(
            partner=self.partner, livemode=self.livemode, filters=filters
        )
        if after := params.get("cursor"):
            items = items.filter(external_id__gt=after)
        page = list(selectors.with_item_details(items).order_by("external_id")[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
        body = {
            "items": ItemOutputSerializer(
                page,
                many=True,
                context={"request": request, "guidance": guidance.for_items(page)},
            ).data,
            "nextCursor": next_cursor(page[-1].external_id) if more else None,
        }
        return Response(body)
