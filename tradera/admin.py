from django.contrib import admin

from tradera.client import for_mode
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
    """Sellers, and above them Tradera's call quota: spent per operation today and what
    waits for it. The token is never shown."""

    change_list_template = "admin/tradera/traderaaccount/change_list.html"
    list_display = [
        "partner",
        "livemode",
        "user_id",
        "token_expires_at",
        "last_synced_at",
        "last_sync_error",
    ]
    list_filter = ["livemode"]
    search_fields = ["partner__name", "user_id"]
    fields = [
        "partner",
        "livemode",
        "user_id",
        "token_expires_at",
        "last_synced_at",
        "last_sync_error",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def changelist_view(self, request, extra_context=None):
        quotas = []
        for livemode, name in ((True, "Tradera (live keys)"), (False, "Sandbox (test keys)")):
            budget = for_mode(livemode).budget
            waiting = TraderaListing.objects.filter(
                item__livemode=livemode,
                status=TraderaListing.Status.PENDING_SYNC,
                error_code="tradera_quota_wait",
            ).count()
            quotas.append(
                {
                    "name": name,
                    "used": budget.used(),
                    "allowance": budget.allowance,
                    "by_operation": sorted(budget.usage().items()),
                    "waiting": waiting,
                }
            )
        return super().changelist_view(request, {**(extra_context or {}), "quotas": quotas})


@admin.register(CategoryRule)
class CategoryRuleAdmin(admin.ModelAdmin):
    """Which Tradera category an item's title words lead to: data staff edit."""

    list_display = ["keyword", "category_id", "category_name", "position"]
    list_editable = ["category_id", "category_name", "position"]
    search_fields = ["keyword", "category_name"]
