"""GET /api/v1/guidance: price and time-to-sell guidance for a part before it is pushed,
from its OEM code and grade (JWT, as the Management API). Reads tradera.guidance's table:
one query, whatever the number of sales."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from items import grades
from portal.api.base import MANAGEMENT, ManagementAPIView
from rheo.fields import StrictCharField
from rheo.schema import error_responses
from tradera import guidance
from tradera.guidance_serializers import GuidanceSerializer


class GuidanceQuerySerializer(serializers.Serializer):
    oemCode = StrictCharField(max_length=100)
    grade = StrictCharField(max_length=20, required=False, allow_blank=True, default="")

    def validate_grade(self, code: str) -> str:
        """The canonical grade of the code as the partner's items would carry it: a code
        of its grade scale, or A–D without one."""
        if not code:
            return ""
        scale = grades.scale_of(self.context["partner"])
        code = grades.spelled_as_in(scale, code) if scale else code.upper()
        canonical = grades.canonical_grade(scale, code)
        if not canonical:
            raise serializers.ValidationError(grades.unknown_code_message(scale, code))
        return canonical


class GuidanceView(ManagementAPIView):
    rate_limit_tier = "analytics"

    @extend_schema(
        operation_id="getPriceGuidance",
        summary="Price and time-to-sell guidance for an OEM code and grade",
        description=(
            "From completed sales across partners (Tradera and Rheo's marketplace), "
            "aggregates only: the median sale price, the interquartile range, the "
            "sell-through rate and the median days to sale, with the sample size. At the OEM "
            "code with the grade when that has enough sales from enough distinct sellers, "
            "else at the OEM code; otherwise `available` is false and no figure is given. "
            "Refreshed nightly and after each sale. " + MANAGEMENT
        ),
        parameters=[
            OpenApiParameter(
                "oemCode",
                str,
                required=True,
                description="As on the part; spaces, dashes, dots and slashes are ignored.",
            ),
            OpenApiParameter(
                "grade",
                str,
                description="A code of your grade scale, as on your items (its canonical "
                "grade is used), or without a scale Rheo's A, B, C or D.",
            ),
        ],
        examples=[
            OpenApiExample("Enough sales", value=guidance.EXAMPLE, response_only=True),
            OpenApiExample(
                "Not enough sales", value=guidance.EXAMPLE_NOT_ENOUGH, response_only=True
            ),
        ],
        responses={200: GuidanceSerializer, **error_responses(400, 401, 429)},
        tags=["Analytics"],
    )
    def get(self, request):
        query = self.validated(
            GuidanceQuerySerializer, request.query_params.dict(), context={"partner": self.partner}
        )
        row = guidance.for_oem(query["oemCode"], query["grade"])
        return Response(guidance.as_json(row))
