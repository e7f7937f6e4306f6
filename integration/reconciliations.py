"""POST /integration/v1/reconciliations (a preview), GET …/<id>, POST …/<id>/apply.

The set of external ids comes as JSON ({"externalIds": [...]}) or as a CSV body
(Content-Type text/csv: one id per line, or a column named externalId), up to 200,000
ids, within a body limit of its own (RHEO_RECONCILIATION_MAX_BODY_BYTES)."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from integration.base import IntegrationAPIView
from items import reconciliations
from items.models import Reconciliation
from rheo.parsers import JSONBodyParser
from rheo.schema import error_responses


class ReconciliationJSONParser(JSONBodyParser):
    def max_bytes(self) -> int:
        return settings.RHEO_RECONCILIATION_MAX_BODY_BYTES


class ReconciliationCSVParser(ReconciliationJSONParser):
    """A CSV body: its ids, as if sent as {"externalIds": [...]}."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = self.read_limited(stream)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError("The CSV body is not UTF-8.") from exc
        return {"externalIds": reconciliations.parse_csv_ids(text)}


class ReconciliationInputSerializer(serializers.Serializer):
    externalIds = serializers.ListField(  # noqa: N815 - the API's field name
        child=serializers.CharField(max_length=255, trim_whitespace=False),
        min_length=1,
        max_length=reconciliations.MAX_IDS,
        help_text="Your complete current set of external ids (this key's mode); "
        "duplicates count once.",
    )


class ApplyInputSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        default=False, help_text="Apply even though the guard would refuse."
    )


class ReconciliationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(["previewed", "applying", "applied", "expired"])
    createdAt = serializers.DateTimeField()  # noqa: N815
    expiresAt = serializers.DateTimeField()  # noqa: N815
    submitted = serializers.IntegerField(help_text="Distinct external ids in your set.")
    present = serializers.IntegerField(help_text="Your current items whose id is in the set.")
    absent = serializers.IntegerField(
        help_text="Your listed (draft or active) items not in the set: to be de-listed."
    )
    unknown = serializers.IntegerField(help_text="Ids in the set Rheo has no item for.")
    absentExternalIds = serializers.ListField(  # noqa: N815
        child=serializers.CharField(), help_text="The first 100 absent items' external ids."
    )
    guard = serializers.DictField(
        help_text="listedItems, thresholdPercent, limit (most de-listed unforced), needsForce."
    )
    progress = serializers.DictField(
        help_text="total (absent), done, delisted, skipped (changed since the preview)."
    )
    appliedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815


def represent(reconciliation: Reconciliation) -> dict:
    return {
        "id": str(reconciliation.id),
        "status": reconciliation.display_status(timezone.now()),
        "createdAt": reconciliation.created_at,
        "expiresAt": reconciliation.expires_at,
        "submitted": reconciliation.submitted_count,
        "present": reconciliation.present_count,
        "absent": reconciliation.absent_count,
        "unknown": reconciliation.unknown_count,
        "absentExternalIds": reconciliation.absent_sample,
        "guard": {
            "listedItems": reconciliation.listed_count,
            "thresholdPercent": settings.RHEO_RECONCILIATION_GUARD_PERCENT,
            "limit": reconciliation.guard_limit,
            "needsForce": reconciliation.needs_force,
        },
        "progress": {
            "total": reconciliation.absent_count,
            "done": reconciliation.done_count,
            "delisted": reconciliation.delisted_count,
            "skipped": reconciliation.skipped_count,
        },
        "appliedAt": reconciliation.applied_at,
    }


def answer(reconciliation: Reconciliation, code: int) -> Response:
    return Response(ReconciliationOutputSerializer(represent(reconciliation)).data, status=code)


RECONCILIATION_ID = OpenApiParameter(
    "reconciliation_id",
    {"type": "string", "format": "uuid"},
    OpenApiParameter.PATH,
    description="The preview's id.",
)
EXAMPLE = {
    "id": "5f1c2a9e-7b3d-4c8e-9f60-2a1b3c4d5e6f",
    "status": "previewed",
    "createdAt": "2026-11-23T12:00:00Z",
    "expiresAt": "2026-11-23T13:00:00Z",
    "submitted": 18250,
    "present": 18190,
    "absent": 312,
    "unknown": 60,
    "absentExternalIds": ["ERP_PART_10017", "ERP_PART_10442"],
    "guard": {"listedItems": 18502, "thresholdPercent": 10.0, "limit": 1850, "needsForce": False},
    "progress": {"total": 312, "done": 0, "delisted": 0, "skipped": 0},
    "appliedAt": None,
}


class ReconciliationListView(IntegrationAPIView):
    rate_limit_tiers = {"POST": "item-sync"}
    parser_classes = [ReconciliationJSONParser, ReconciliationCSVParser]

    @extend_schema(
        operation_id="previewReconciliation",
        summary="Preview a reconciliation with your complete set of ids",
        description=(
            "Send every external id you currently have (this key's mode), as JSON or as a CSV "
            "body (`text/csv`: one id per line, or a column named `externalId`), up to "
            "200,000 ids and 16 MB. Nothing is changed: the answer counts your listed items "
            "absent from the set (they would be de-listed), those present, and the ids Rheo "
            "does not know, and says whether applying needs `force`. The preview expires "
            "after an hour."
        ),
        # The CSV body is in the description only: as a schema it would be any string,
        # which cannot tell a fuzzer's "wrong type" from a set of ids.
        request={"application/json": ReconciliationInputSerializer},
        responses={
            201: ReconciliationOutputSerializer,
            **error_responses(400, 401, 413, 415, 429),
        },
        examples=[
            OpenApiExample(
                "Your set",
                value={"externalIds": ["ERP_PART_10001", "ERP_PART_10002"]},
                request_only=True,
            ),
            OpenApiExample("Preview", value=EXAMPLE, response_only=True, status_codes=["201"]),
        ],
        tags=["Items"],
    )
    def post(self, request):
        # Validated by the service (as for the dashboard's form), not by the serializer,
        # which documents the body: 200,000 CharFields would cost a second.
        data = request.data
        external_ids = data.get("externalIds") if isinstance(data, dict) else None
        reconciliation = reconciliations.preview_reconciliation(
            partner=self.partner, livemode=self.livemode, external_ids=external_ids
        )
        return answer(reconciliation, status.HTTP_201_CREATED)


class ReconciliationView(IntegrationAPIView):
    @extend_schema(
        operation_id="getReconciliation",
        summary="A reconciliation's preview and progress",
        description="`status` is previewed, applying, applied or expired (a preview not "
        "applied within its hour); `progress` counts the de-listing done out of the total.",
        parameters=[RECONCILIATION_ID],
        responses={200: ReconciliationOutputSerializer, **error_responses(401, 404, 429)},
        examples=[OpenApiExample("Preview", value=EXAMPLE, response_only=True)],
        tags=["Items"],
    )
    def get(self, request, reconciliation_id):
        reconciliation = reconciliations.get_reconciliation(
            partner=self.partner, livemode=self.livemode, reconciliation_id=reconciliation_id
        )
        return answer(reconciliation, status.HTTP_200_OK)


class ReconciliationApplyView(IntegrationAPIView):
    rate_limit_tiers = {"POST": "item-sync"}

    @extend_schema(
        operation_id="applyReconciliation",
        summary="De-list the preview's absent items, in the background",
        description=(
            "Answers 202 at once; follow `progress` with GET. The absent items of the preview "
            "become `not_listed` and their Tradera auctions end (an auction with bids runs "
            "on: `tradera_end_refused_has_bids`). Items changed since the preview are skipped. "
            "Idempotent: applying again changes nothing. 409 when the preview has expired, "
            "or when it would de-list more than the guard allows (10 % of your listed items "
            'by default) and the body is not `{"force": true}`.'
        ),
        parameters=[RECONCILIATION_ID],
        request=ApplyInputSerializer,
        responses={
            202: ReconciliationOutputSerializer,
            **error_responses(400, 401, 404, 409, 415, 429),
        },
        examples=[
            OpenApiExample("Forced", value={"force": True}, request_only=True),
            OpenApiExample(
                "Applying",
                value={
                    **EXAMPLE,
                    "status": "applying",
                    "progress": {"total": 312, "done": 200, "delisted": 198, "skipped": 2},
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
        tags=["Items"],
    )
    def post(self, request, reconciliation_id):
        serializer = ApplyInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        reconciliation = reconciliations.apply_reconciliation(
            partner=self.partner,
            livemode=self.livemode,
            reconciliation_id=reconciliation_id,
            force=serializer.validated_data["force"],
        )
        return answer(reconciliation, status.HTTP_202_ACCEPTED)
