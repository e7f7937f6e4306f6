from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from integration.base import MAX_EXTERNAL_ID_LENGTH, IntegrationAPIView
from integration.etags import (
    ETAG,
    IF_MATCH,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    if_match,
    item_etag,
    none_match,
)
from integration.serializers import (
    AcceptedSerializer,
    ItemInputSerializer,
    ItemOutputSerializer,
    PriceInputSerializer,
    PutAnswerSerializer,
    SimulateInputSerializer,
    StatusInputSerializer,
    api_field_names,
)
from items import grades, selectors, services
from rheo.errors import ServiceError
from rheo.fields import StrictDecimalField
from rheo.schema import error_responses
from tradera import guidance
from tradera import services as tradera

EXTERNAL_ID = OpenApiParameter(
    "external_id",
    {"type": "string", "minLength": 1, "maxLength": MAX_EXTERNAL_ID_LENGTH},
    OpenApiParameter.PATH,
    description=f"Your internal item ID. At most {MAX_EXTERNAL_ID_LENGTH} characters; no "
    "slashes and no NUL characters.",
)

PUT_MESSAGES = {
    "created": "Item is being processed in the background.",
    "updated": "Item updated; changes are being processed in the background.",
    "unchanged": "Item is unchanged; there is nothing to process.",
    "stale": "Stale write ignored: sourceVersion {sent} is lower than the stored {stored}; "
    "the item is unchanged.",
}
PREVIEW_MESSAGES = {
    "created": "The item would be created.",
    "updated": "The item would be updated: {changed}.",
    "unchanged": "The item is unchanged; nothing would be written.",
    "stale": "The write would be stale: sourceVersion {sent} is lower than the stored "
    "{stored}; nothing would change.",
}

VALIDATE_ONLY = OpenApiParameter(
    "validateOnly",
    bool,
    OpenApiParameter.QUERY,
    description="true: validate, check the plan limit and say what the write would do "
    "(200), writing nothing. Only true or false.",
)


def validate_only_param(request) -> bool:
    values = request.query_params.getlist("validateOnly")
    if not values:
        return False
    if len(values) == 1 and values[0] in ("true", "false"):
        return values[0] == "true"
    shown = ", ".join(repr(v) for v in values)
    raise serializers.ValidationError({"validateOnly": [f"Must be true or false; got {shown}."]})


def put_answer(result, *, source_version: int | None, validate_only: bool) -> Response:
    """The answer to a PUT (202), or to its validateOnly preview (200)."""
    changed = api_field_names(result.changed_fields)
    template = (PREVIEW_MESSAGES if validate_only else PUT_MESSAGES)[result.outcome]
    stored = result.item.source_version if result.item else None
    body = {
        "success": True,
        "itemId": str(result.item_id) if result.item_id else None,
        "message": template.format(changed=", ".join(changed), sent=source_version, stored=stored),
        "outcome": result.outcome,
    }
    if result.outcome == "updated":
        body["changedFields"] = changed
    if validate_only:
        body["validateOnly"] = True
        return Response(body, status=status.HTTP_200_OK)
    return Response(body, status=status.HTTP_202_ACCEPTED)


EXAMPLE_ITEM = {
    "title": "Volvo XC90 bromsok fram vänster",
    "description": "Testad och fungerande. Skick B.",
    "price": 950,
    "shippingCost": 149,
    "weightKg": 3.2,
    "currency": "SEK",
    "imageUrls": ["https://your-cdn.example.com/parts/12345/1.jpg"],
    "domain": {
        "domain": "automotive_part",
        "oemCode": "31400452",
        "manufacturer": "Volvo",
        "compatibleModels": ["XC90", "XC90 II"],
        "donorVehicleYear": 2018,
        "conditionGrade": "B",
    },
    "autoPublishTradera": True,
    "useAiEnhancement": False,
}


ITEM_ID = "0b5e8d4c-3f7a-4e62-9a51-6c2d8f0e4b17"
EXAMPLE_ACCEPTED = OpenApiExample(
    "Accepted",
    value={
        "success": True,
        "itemId": ITEM_ID,
        "message": PUT_MESSAGES["created"],
        "outcome": "created",
    },
    response_only=True,
    status_codes=["202"],
)
EXAMPLE_INVALID = OpenApiExample(
    "Invalid fields",
    value={
        "success": False,
        "error": {
            "code": "validation_error",
            "message": "2 fields are invalid: price, imageUrls[0].",
            "fields": {
                "price": ["Must be a number."],
                "imageUrls[0]": ["Must be an https:// URL."],
            },
            "requestId": "req_4f2a9c7e1b8d4a6f9e3c5b7a1d2e4f60",
        },
    },
    response_only=True,
    status_codes=["400"],
)
EXAMPLE_OUTPUT = {
    "externalId": "12345",
    "rheoItemId": ITEM_ID,
    "rheoStatus": "active",
    "traderaStatus": "active",
    "traderaAdId": "700000001",
    "traderaAdUrl": "https://www.tradera.com/item/700000001",
    "price": 950,
    "title": EXAMPLE_ITEM["title"],
    "description": EXAMPLE_ITEM["description"],
    "enhancedTitle": None,
    "enhancedDescription": None,
    "images": [
        {
            "url": f"https://rheo.example.com/media/items/{ITEM_ID}/1.jpg",
            "thumbnailUrl": f"https://rheo.example.com/media/items/{ITEM_ID}/1-thumb.jpg",
            "width": 1600,
            "height": 1200,
            "sourceUrl": "https://your-cdn.example.com/parts/12345/1.jpg",
        }
    ],
    "issues": [],
    "sourceVersion": None,
    "conditionGrade": "B",
    "canonicalGrade": "B",
    "gradeText": "Gott skick",
    "guidance": {**guidance.EXAMPLE, "pricePosition": "middle_half"},
}


def accepted(item, message: str) -> Response:
    body = {"success": True, "itemId": str(item.id), "message": message}
    return Response(body, status=status.HTTP_202_ACCEPTED)


def validated(serializer_class, data, context=None):
    serializer = serializer_class(data=data, context=context or {})
    serializer.is_valid(raise_exception=True)
    return serializer


class ItemView(IntegrationAPIView):
    rate_limit_tiers = {"PUT": "item-sync", "DELETE": "item-sync", "GET": "read"}

    @extend_schema(
        operation_id="putItem",
        summary="Create or update an item",
        description=(
            "Idempotent on `external_id`: a second PUT of the same id updates the item. "
            "`imageUrls` may also be sent as `images` or `image_urls` (exactly one of the "
            "three). `autoPublishTradera` is applied only when the item is created. A PUT "
            "whose content equals the stored item changes nothing and enqueues nothing. A PUT "
            "that would create an item beyond the plan's active-item limit is refused with 402 "
            "plan_limit_reached; updates of existing items always pass. With `sourceVersion`, "
            "a PUT whose version is lower than the stored one is `stale` and changes nothing "
            "(still 202). `outcome` says what happened. With `?validateOnly=true` nothing is "
            "written: the answer (200) says what the PUT would do, or refuses as it would."
        ),
        parameters=[EXTERNAL_ID, VALIDATE_ONLY],
        request=ItemInputSerializer,
        responses={
            202: PutAnswerSerializer,
            200: PutAnswerSerializer,
            **error_responses(400, 401, 402, 409, 413, 415, 429),
        },
        examples=[
            OpenApiExample("Brake caliper", value=EXAMPLE_ITEM, request_only=True),
            EXAMPLE_ACCEPTED,
            OpenApiExample(
                "Stale",
                value={
                    "success": True,
                    "itemId": ITEM_ID,
                    "message": PUT_MESSAGES["stale"].format(sent=41, stored=42),
                    "outcome": "stale",
                },
                response_only=True,
                status_codes=["202"],
            ),
            OpenApiExample(
                "validateOnly",
                value={
                    "success": True,
                    "itemId": ITEM_ID,
                    "message": PREVIEW_MESSAGES["updated"].format(changed="price, imageUrls"),
                    "outcome": "updated",
                    "changedFields": ["price", "imageUrls"],
                    "validateOnly": True,
                },
                response_only=True,
                status_codes=["200"],
            ),
            EXAMPLE_INVALID,
        ],
        tags=["Items"],
    )
    def put(self, request, external_id):
        validate_only = validate_only_param(request)
        scale = grades.scale_of(self.partner)
        content = validated(ItemInputSerializer, request.data, {"grade_scale": scale})
        source_version = content.validated_data.get("sourceVersion")
        write = {
            "partner": self.partner,
            "livemode": self.livemode,
            "external_id": external_id,
            "content": content.to_content(),
            "source_version": source_version,
        }
        if validate_only:
            preview = services.preview_upsert(**write)
            return put_answer(preview, source_version=source_version, validate_only=True)
        result = services.upsert_item(
            **write, auto_publish_tradera=content.validated_data["autoPublishTradera"]
        )
        return put_answer(result, source_version=source_version, validate_only=False)

    @extend_schema(
        operation_id="getItem",
        summary="Get an item's status",
        description="The item as Rheo holds it: its status, its Tradera listing, the hosted "
        "images, and `issues` (image URLs that failed for good, what Tradera refused).",
        parameters=[EXTERNAL_ID, IF_NONE_MATCH, ETAG],
        examples=[OpenApiExample("Active item", value=EXAMPLE_OUTPUT, response_only=True)],
        responses={
            200: ItemOutputSerializer,
            304: NOT_MODIFIED,
            **error_responses(400, 401, 404, 429),
        },
        tags=["Items"],
    )
    def get(self, request, external_id):
        item = selectors.get_current_item(
            partner=self.partner, livemode=self.livemode, external_id=external_id
        )
        if item is None:
            raise ServiceError("not_found", f"No item with external id {external_id}.")
        etag = item_etag(item)
        if none_match(request, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        body = ItemOutputSerializer(item, context={"request": request}).data
        return Response(body, headers={"ETag": etag})

    @extend_schema(
        operation_id="deleteItem",
        summary="Delete an item",
        description=(
            "Deletes the item; its external id can then be pushed anew. An item with a Rheo "
            "order in progress is archived instead, to keep the order's record."
        ),
        parameters=[EXTERNAL_ID],
        request=None,
        examples=[
            OpenApiExample(
                "Deleted",
                value={"success": True, "itemId": ITEM_ID, "message": "Item deleted."},
                response_only=True,
                status_codes=["202"],
            )
        ],
        responses={202: AcceptedSerializer, **error_responses(400, 401, 404, 429)},
        tags=["Items"],
    )
    def delete(self, request, external_id):
        result = services.delete_item(
            partner=self.partner, livemode=self.livemode, external_id=external_id
        )
        message = (
            "Item deleted."
            if result.outcome == "deleted"
            else "Item archived: a Rheo order for it is in progress."
        )
        return accepted(result.item, message)


class ItemPriceView(IntegrationAPIView):
    rate_limit_tiers = {"PATCH": "price-update"}

    @extend_schema(
        operation_id="updateItemPrice",
        summary="Update an active item's price",
        description="Sets the price of a draft or active item; an active Tradera auction "
        "follows in the background.",
        parameters=[EXTERNAL_ID, IF_MATCH],
        request=PriceInputSerializer,
        examples=[
            OpenApiExample("New price", value={"price": 895}, request_only=True),
            OpenApiExample(
                "Accepted",
                value={"success": True, "itemId": ITEM_ID, "message": "Price set to 895 SEK."},
                response_only=True,
                status_codes=["202"],
            ),
        ],
        responses={
            202: AcceptedSerializer,
            **error_responses(400, 401, 404, 409, 412, 415, 429),
        },
        tags=["Items"],
    )
    def patch(self, request, external_id):
        price = validated(PriceInputSerializer, request.data).validated_data["price"]
        item = services.update_item_price(
            partner=self.partner,
            livemode=self.livemode,
            external_id=external_id,
            price=price,
            if_match=if_match(request),
        )
        return accepted(item, f"Price set to {StrictDecimalField().to_representation(price)} SEK.")


class ItemStatusView(IntegrationAPIView):
    rate_limit_tiers = {"PATCH": "status-update"}

    @extend_schema(
        operation_id="updateItemStatus",
        summary="De-list an item or mark it sold",
        description="`not_listed` takes the item off the marketplace and ends its Tradera "
        "auction; `sold` does the same for an item you sold elsewhere.",
        parameters=[EXTERNAL_ID, IF_MATCH],
        request=StatusInputSerializer,
        examples=[
            OpenApiExample("Sold elsewhere", value={"status": "sold"}, request_only=True),
            OpenApiExample(
                "Accepted",
                value={"success": True, "itemId": ITEM_ID, "message": "Item status is sold."},
                response_only=True,
                status_codes=["202"],
            ),
        ],
        responses={
            202: AcceptedSerializer,
            **error_responses(400, 401, 404, 409, 412, 415, 429),
        },
        tags=["Items"],
    )
    def patch(self, request, external_id):
        new_status = validated(StatusInputSerializer, request.data).validated_data["status"]
        item = services.change_item_status(
            partner=self.partner,
            livemode=self.livemode,
            external_id=external_id,
            status=new_status,
            if_match=if_match(request),
        )
        return accepted(item, f"Item status is {item.status}.")


class ItemSimulateView(IntegrationAPIView):
    rate_limit_tiers = {"POST": "status-update"}

    @extend_schema(
        operation_id="simulateTraderaEvent",
        summary="Test keys only: make the sandbox sell or end the item's auction",
        description=(
            "For trying your webhook handling: `sold` (with `salePrice`) makes the Tradera "
            "sandbox sell the item's auction and `ended` end it unsold, then Rheo syncs the "
            "account at once, so the real `item.sold` / `listing.ended` webhook arrives "
            "within seconds; `failed` (with `errorCode`) fails the listing and sends "
            "`listing.failed`. Needs a running sandbox auction (409 otherwise, also while an "
            "auction a simulation ended is not yet synced); a live key gets 403; 503 when "
            "the sandbox does not answer."
        ),
        parameters=[EXTERNAL_ID],
        request=SimulateInputSerializer,
        examples=[
            OpenApiExample("Sold", value={"event": "sold", "salePrice": 1100}, request_only=True),
            OpenApiExample(
                "Accepted",
                value={
                    "success": True,
                    "itemId": ITEM_ID,
                    "message": "Simulated sold; the webhook follows shortly.",
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
        responses={
            202: AcceptedSerializer,
            **error_responses(400, 401, 403, 404, 409, 415, 429, 503),
        },
        tags=["Items"],
    )
    def post(self, request, external_id):
        if self.livemode:
            raise ServiceError("forbidden", "Simulation is for test keys (rheo_test_…) only.")
        data = validated(SimulateInputSerializer, request.data).validated_data
        item = selectors.get_current_item(
            partner=self.partner, livemode=False, external_id=external_id
        )
        if item is None:
            raise ServiceError("not_found", f"No item with external id {external_id}.")
        tradera.simulate_event(
            item=item,
            event=data["event"],
            sale_price=data.get("salePrice"),
            error_code=data.get("errorCode", ""),
        )
        return accepted(item, f"Simulated {data['event']}; the webhook follows shortly.")
