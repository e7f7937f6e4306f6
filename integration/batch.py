"""POST /integration/v1/items/batch: up to MAX_BATCH_ITEMS items in one request, each
validated as its PUT's body and upserted on its own (items.batch), one result each."""

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from integration.serializers import CHANGED_FIELDS_HELP, api_field_names
from integration.views import (
    EXAMPLE_ITEM,
    ITEM_ID,
    VALIDATE_ONLY,
    ItemView,
    validate_only_param,
    validated,
)
from items import batch as item_batch
from items import grades
from items.batch import MAX_BATCH_ITEMS, OUTCOMES
from items.payloads import BatchItemInputSerializer, batch_items
from rheo.parsers import JSONBodyParser
from rheo.schema import error_responses


@extend_schema_field(BatchItemInputSerializer(many=True))
class BatchEntriesField(serializers.ListField):
    """The batch's list: 1 to MAX_BATCH_ITEMS entries, left unvalidated here; the view
    validates each on its own, so one bad entry is reported in its result instead of
    refusing the batch."""

    def __init__(self, **kwargs):
        super().__init__(
            min_length=1,
            max_length=MAX_BATCH_ITEMS,
            error_messages={
                "not_a_list": "Must be a list of items.",
                "min_length": "Give at least one item.",
                "max_length": f"Give at most {MAX_BATCH_ITEMS} items; send more in several "
                "batches.",
            },
            **kwargs,
        )


class BatchInputSerializer(serializers.Serializer):
    items = BatchEntriesField(
        help_text=f"1 to {MAX_BATCH_ITEMS} items, each a PUT's body with its externalId."
    )


# Its own error format's three parts (a serializer cannot declare a field named "fields").
ITEM_ERROR: dict[str, serializers.Field] = {
    "code": serializers.CharField(help_text="validation_error, plan_limit_reached or conflict"),
    "message": serializers.CharField(),
    "fields": serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        allow_null=True,
        help_text="On validation_error: the item's bad fields, named as in a PUT.",
    ),
}


class BatchResultSerializer(serializers.Serializer):
    externalId = serializers.CharField(allow_null=True, help_text="As sent; null if not a string.")
    outcome = serializers.ChoiceField(choices=list(OUTCOMES))
    itemId = serializers.UUIDField(
        allow_null=True, help_text="Rheo's id for the item; null when there is none (yet)."
    )
    changedFields = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=CHANGED_FIELDS_HELP
    )
    error = inline_serializer(
        "ItemError", ITEM_ERROR, allow_null=True, help_text="On invalid and refused; else null."
    )


class BatchAnswerSerializer(serializers.Serializer):
    validateOnly = serializers.BooleanField(help_text="true: nothing was written.")
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="How many items had each outcome."
    )
    results = BatchResultSerializer(many=True, help_text="One per item, in the request's order.")


def batch_result(result: item_batch.BatchResult) -> dict:
    body: dict = {
        "externalId": result.external_id,
        "outcome": result.outcome,
        "itemId": str(result.item_id) if result.item_id else None,
    }
    if result.outcome == "updated":
        body["changedFields"] = api_field_names(result.changed_fields)
    error = result.error
    body["error"] = error and {"code": error.code, "message": error.message, "fields": error.fields}
    return body


EXAMPLE_BATCH = {
    "items": [
        {"externalId": "12345", **EXAMPLE_ITEM, "sourceVersion": 1733480000123},
        {"externalId": "12346", **EXAMPLE_ITEM, "price": 0},
    ]
}
EXAMPLE_BATCH_ANSWER = {
    "validateOnly": False,
    "counts": {"created": 1, "updated": 0, "unchanged": 0, "stale": 0, "invalid": 1, "refused": 0},
    "results": [
        {"externalId": "12345", "outcome": "created", "itemId": ITEM_ID, "error": None},
        {
            "externalId": "12346",
            "outcome": "invalid",
            "itemId": None,
            "error": {
                "code": "validation_error",
                "message": "1 field is invalid: price.",
                "fields": {"price": ["Ensure this value is greater than or equal to 1."]},
            },
        },
    ],
}


def named_batch(method: str) -> dict:
    """The schema of ItemView's `method` on the path items/batch: the item named "batch"."""
    return {
        "operation_id": f"{method}ItemNamedBatch",
        "summary": f"{method.upper()} the item whose external id is batch",
        "description": f"The {method.upper()} of `/integration/v1/items/{{external_id}}` for "
        "the item whose external id is `batch`: only POST on this path is the batch.",
        "parameters": [
            OpenApiParameter("external_id", location=OpenApiParameter.PATH, exclude=True)
        ],
    }


class BatchJSONParser(JSONBodyParser):
    def max_bytes(self) -> int:
        return settings.RHEO_MAX_BATCH_BODY_BYTES


# The path items/batch is both the batch (POST) and the item whose external id is "batch"
# (GET, PUT, DELETE: ItemView's), so neither shadows the other.
@extend_schema_view(
    get=extend_schema(**named_batch("get")),
    put=extend_schema(**named_batch("put")),
    delete=extend_schema(**named_batch("delete")),
)
class ItemBatchView(ItemView):
    rate_limit_tiers = {**ItemView.rate_limit_tiers, "POST": "item-batch"}

    def get_parsers(self):
        # The batch's larger body limit for POST only: a PUT to the item named "batch"
        # keeps the PUT's. (The schema generator asks with no request.)
        if getattr(self.request, "method", None) == "POST":
            return [BatchJSONParser()]
        return super().get_parsers()

    @extend_schema(
        operation_id="upsertItems",
        summary="Create or update up to 100 items at once",
        description=(
            f"Each item is a PUT's body with its `externalId`; up to {MAX_BATCH_ITEMS} "
            "items and 5 MB. Each is written on its own, as its PUT would be (idempotent, "
            "`sourceVersion` guarded, the plan limit counted), so one bad item never sinks "
            "the batch: the answer (200) has one result per item, in order, with its "
            "`outcome`: created, updated (with `changedFields`), unchanged, stale, invalid "
            "(its `error` names the bad fields; an externalId twice in the batch is invalid "
            "both times) or refused (plan_limit_reached, or conflict for an archived item). "
            "With `?validateOnly=true` nothing is written and each result says what would "
            "happen. Rate limit: the item-batch tier (5 requests per second per key)."
        ),
        parameters=[VALIDATE_ONLY],
        request=BatchInputSerializer,
        responses={200: BatchAnswerSerializer, **error_responses(400, 401, 413, 415, 429)},
        examples=[
            OpenApiExample("Two items", value=EXAMPLE_BATCH, request_only=True),
            OpenApiExample(
                "Results", value=EXAMPLE_BATCH_ANSWER, response_only=True, status_codes=["200"]
            ),
        ],
        tags=["Items"],
    )
    def post(self, request, external_id):
        validate_only = validate_only_param(request)
        entries = validated(BatchInputSerializer, request.data).validated_data["items"]
        results = item_batch.upsert_items(
            partner=self.partner,
            livemode=self.livemode,
            items=batch_items(entries, grades.scale_of(self.partner)),
            validate_only=validate_only,
        )
        counts = dict.fromkeys(OUTCOMES, 0)
        for result in results:
            counts[result.outcome] += 1
        body = {
            "validateOnly": validate_only,
            "counts": counts,
            "results": [batch_result(result) for result in results],
        }
        return Response(body)
