"""The Management API's grade scale (/api/v1/grade-scale): the partner's own condition
codes and what each means (items.grades)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from items import grades
from items.models import CANONICAL_GRADES
from portal.api.base import MANAGEMENT, ManagementAPIView
from rheo.fields import StrictCharField
from rheo.schema import error_responses

TAGS = ["Management: grade scale"]

EXAMPLE_GRADES = [
    {
        "code": "A*",
        "canonicalGrade": "A",
        "buyerText": "Som ny",
        "traderaWording": "Som ny: inga synliga spår av användning, testad och fungerande.",
    },
    {
        "code": "A",
        "canonicalGrade": "A",
        "buyerText": "Mycket gott skick",
        "traderaWording": "Mycket bra skick, lätta bruksspår.",
    },
    {
        "code": "B",
        "canonicalGrade": "B",
        "buyerText": "Gott skick",
        "traderaWording": "Normalt slitage för åldern, fullt fungerande.",
    },
    {
        "code": "M",
        "canonicalGrade": "D",
        "buyerText": "Defekt, för renovering",
        "traderaWording": "Defekt eller otestad; säljs som den är, för renovering.",
    },
]


class GradeSerializer(serializers.Serializer):
    # Taken as sent (no trimming, so a length the schema allows is the length stored);
    # blank texts are refused.
    code = StrictCharField(
        max_length=20,
        trim_whitespace=False,
        help_text="Your code, as your ERP sends it in domain.conditionGrade (A*, 3, Bra…).",
    )
    canonicalGrade = serializers.ChoiceField(
        choices=list(CANONICAL_GRADES),
        help_text="Rheo's grade it means: A very good, B good, C acceptable, D for repair.",
    )
    buyerText = StrictCharField(
        max_length=200, trim_whitespace=False, help_text="Short Swedish text buyers read."
    )
    traderaWording = StrictCharField(
        max_length=500,
        trim_whitespace=False,
        help_text="The condition wording of the Tradera auction's text.",
    )

    def validate(self, attrs):
        blank = {
            name: ["This field may not be blank."]
            for name in ("code", "buyerText", "traderaWording")
            if not attrs[name].strip()
        }
        if blank:
            raise serializers.ValidationError(blank)
        return attrs


class GradeScaleSerializer(serializers.Serializer):
    grades = GradeSerializer(
        many=True,
        help_text=f"In your order, at most {grades.MAX_CODES}; empty: no scale (Rheo's A–D).",
    )


class GradeScaleAnswerSerializer(GradeScaleSerializer):
    changedCodes = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="On PUT: the codes whose meaning changed.",
    )
    affectedItems = serializers.IntegerField(
        required=False,
        help_text="On PUT: your items re-described (each has a line on its timeline).",
    )


def scale_body(codes) -> dict:
    return {
        "grades": [
            {
                "code": row.code,
                "canonicalGrade": row.canonical,
                "buyerText": row.buyer_text,
                "traderaWording": row.tradera_wording,
            }
            for row in codes
        ]
    }


class GradeScaleView(ManagementAPIView):
    @extend_schema(
        operation_id="getGradeScale",
        summary="Your grade scale",
        description="The codes your ERP may send as `domain.conditionGrade`, each with "
        "Rheo's grade, the buyers' text and the Tradera wording. An empty list: you have no "
        f"scale, and conditionGrade takes Rheo's grades A–D. {MANAGEMENT}",
        responses={200: GradeScaleSerializer, **error_responses(401, 429)},
        examples=[OpenApiExample("A letter scale", value={"grades": EXAMPLE_GRADES})],
        tags=TAGS,
    )
    def get(self, request):
        return Response(scale_body(grades.codes_of(self.partner)))

    @extend_schema(
        operation_id="putGradeScale",
        summary="Replace your grade scale",
        description="The whole scale, in your order; codes are unique (case matters, but "
        "an item's code is matched without regard to case when that names one code). Your "
        "items whose code now means something else take the new canonical grade and get a "
        "line on their timeline; their marketplace page and their next Tradera auction use "
        "the new texts, while running auctions keep theirs. Items whose code you remove "
        "keep their grade until their next PUT, which must send a valid code. An empty "
        f"list removes the scale. {MANAGEMENT}",
        request=GradeScaleSerializer,
        responses={200: GradeScaleAnswerSerializer, **error_responses(400, 401, 429)},
        examples=[
            OpenApiExample("A letter scale", value={"grades": EXAMPLE_GRADES}, request_only=True),
            OpenApiExample(
                "Replaced",
                value={"grades": EXAMPLE_GRADES, "changedCodes": ["A*"], "affectedItems": 12},
                response_only=True,
            ),
        ],
        tags=TAGS,
    )
    def put(self, request):
        data = self.validated(GradeScaleSerializer)
        change = grades.replace_grade_scale(
            partner=self.partner,
            grades=[
                grades.GradeSpec(
                    code=g["code"],
                    canonical=g["canonicalGrade"],
                    buyer_text=g["buyerText"],
                    tradera_wording=g["traderaWording"],
                )
                for g in data["grades"]
            ],
        )
        body = scale_body(change.codes)
        body["changedCodes"] = list(change.changed_codes)
        body["affectedItems"] = change.affected_items
        return Response(body)
