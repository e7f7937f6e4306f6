"""The `guidance` block as both APIs (the item's GET, the Management API's
/api/v1/guidance) document it; tradera.guidance.as_json writes it."""

from rest_framework import serializers


class GuidanceRangeSerializer(serializers.Serializer):
    low = serializers.FloatField(help_text="The 25th percentile of the sale prices, SEK.")
    high = serializers.FloatField(help_text="The 75th percentile, SEK.")


class GuidanceSerializer(serializers.Serializer):
    """Price and time-to-sell guidance from completed sales across partners (aggregates
    only). Without enough sales, available is false and no figure is given."""

    available = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=["not_enough_sales"], required=False, help_text="When not available."
    )
    minSales = serializers.IntegerField(required=False, help_text="When not available.")
    minSellers = serializers.IntegerField(required=False, help_text="When not available.")
    level = serializers.ChoiceField(
        choices=["oem_grade", "oem", "vehicle_grade", "vehicle"],
        required=False,
        help_text="What the sales share with the part: OEM code and grade; OEM code; "
        "category, manufacturer, model and donor-year band with grade; the same without.",
    )
    sampleSize = serializers.IntegerField(required=False, help_text="Completed sales.")
    sellers = serializers.IntegerField(required=False, help_text="Distinct sellers.")
    medianPrice = serializers.FloatField(required=False, help_text="SEK.")
    interquartileRange = GuidanceRangeSerializer(required=False)
    sellThroughRate = serializers.FloatField(
        required=False, help_text="Sales over sales plus items that left unsold, 0 to 1."
    )
    medianDaysToSale = serializers.FloatField(
        required=False, help_text="From the item's creation in Rheo to its sale."
    )
    refreshedAt = serializers.DateTimeField(required=False)
    pricePosition = serializers.ChoiceField(
        choices=["top_quarter", "middle_half", "bottom_quarter"],
        required=False,
        help_text="On an item: where its price stands among the sales.",
    )
