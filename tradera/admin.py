from django.contrib import admin

from tradera.models import CategoryRule, TraderaAccount, TraderaListing


@admin.register(TraderaListing)
class TraderaListingAdmin(admin.ModelAdmin):
    list_display = ["ad_id", "item", "status", "attempts", "error_code", "updated_at"]
    list_filter = ["status", "error_code"]
    search_fields = ["ad_id", "item__external_id"]
    readonly_fields = [
        "item",
        "ad_id",
        "status",
        "request_id",
        "tradera_item_id",
        "committed",
        "commit_acknowledged",
        "attempts",
        "next_attempt_at",
        "locked_until",
        "error_code",
        "error_message",
        "published_at",
    ]
    exclude = ["nudged_at"]

    def has_add_permission(self, request):
        return False


@admin.register(TraderaAccount)
class TraderaAccountAdmin(admin.ModelAdmin):
    # The token is never shown.
    list_display = ["partner", "livemode", "user_id", "token_expires_at", "created_at"]
    list_filter = ["livemode"]
    search_fields = ["partner__name", "user_id"]
    fields = ["partner", "livemode", "user_id", "token_expires_at", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(CategoryRule)
class CategoryRuleAdmin(admin.ModelAdmin):
    """Which Tradera category an item's title words lead to: data staff edit."""

    list_display = ["keyword", "category_id", "category_name", "position"]
    list_editable = ["category_id", "category_name", "position"]
    search_fields = ["keyword", "category_name"]
