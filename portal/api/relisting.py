"""The partner's relist rules (/api/v1/relist-rules): how Tradera auctions that end unsold
are relisted at a lower price (docs/tradera.md, "Relisting")."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from items.payloads import RelistSerializer, relist_json
from portal.api.base import MANAGEMENT, ManagementAPIView
from rheo.schema import error_responses
from tradera import relisting

TAGS = ["Management: relisting"]
EXAMPLE_RULES = {
    "enabled": True,
    "maxRelists": 2,
    "stepPercent": 10,
    "stepAmount": None,
    "floorPrice": None,
    "floorPercent": 60,
    "waitHours": 0,
    "marketplaceOnlyAtFloor": True,
}


class RelistRulesSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    maxRelists = serializers.IntegerField()
    stepPercent = serializers.FloatField(allow_null=True)
    stepAmount = serializers.FloatField(allow_null=True)
    floorPrice = serializers.FloatField(allow_null=True)
    floorPercent = serializers.FloatField(allow_null=True)
    waitHours = serializers.IntegerField()
    marketplaceOnlyAtFloor = serializers.BooleanField()


def rules_body(rules: dict) -> dict:
    return relist_json(rules)


class RelistRulesView(ManagementAPIView):
    @extend_schema(
        operation_id="getRelistRules",
        summary="Your relist rules",
        description="How an auction that ends unsold on Tradera is relisted at a lower "
        f"price; an item's `relist` object overrides them. {MANAGEMENT}",
        examples=[OpenApiExample("Rules", value=EXAMPLE_RULES, response_only=True)],
        responses={200: RelistRulesSerializer, **error_responses(401, 429)},
        tags=TAGS,
    )
    def get(self, request):
        return Response(rules_body(relisting.partner_rules(self.partner.pk)))

    @extend_schema(
        operation_id="putRelistRules",
        summary="Set your relist rules",
        description="Replaces the rules: a name left out takes its default (off, 2 relists, "
        "10 % steps, a floor at 50 %, no wait, marketplace only at the floor). Give the step "
        "as stepPercent or stepAmount, the floor as floorPrice or floorPercent. Items "
        f"relisted from then on follow the new rules. {MANAGEMENT}",
        examples=[
            OpenApiExample(
                "Set",
                value={"enabled": True, "maxRelists": 2, "stepPercent": 10, "floorPercent": 60},
                request_only=True,
            ),
            OpenApiExample("Rules", value=EXAMPLE_RULES, response_only=True),
        ],
        request=RelistSerializer,
        responses={200: RelistRulesSerializer, **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def put(self, request):
        data = dict(self.validated(RelistSerializer))
        # One step and one floor: the one given replaces the default's other.
        if data.get("stepAmount") is not None:
            data.setdefault("stepPercent", None)
        if data.get("floorPrice") is not None:
            data.setdefault("floorPercent", None)
        return Response(rules_body(relisting.save_partner_rules(self.partner, data)))
