from django.contrib import admin
from django.utils.html import format_html

from rheo.admin import ReadOnlyAdmin, act_on_each, mode_filter, titled
from tradera import services, sync
from tradera.client import for_mode
from tradera.models import CategoryRule, RelistRules, TraderaAccount, TraderaListing
from tradera.quota import CallBudget


@admin.register(TraderaListing)
class TraderaListingAdmin(ReadOnlyAdmin):
    """Read-only: a listing changes through the publish, change and sync services; staff
    retry a failed publish or end an auction with the actions."""

    list_display = [
        "ad_id",
        "item",
        "partner",
        "mode",
        "status",
        "attempts",
        "error_code",
        "has_issues",
        "updated_at",
    ]
    list_filter = [
        ("status", titled("Tradera status")),
        ("error_code", titled("error code")),
        mode_filter("item__livemode"),
        ("item__partner", titled("partner")),
    ]
    search_fields = ["ad_id", "=tradera_item_id", "item__external_id", "item__title"]
    list_select_related = ["item__partner"]
    fieldsets = [
        (None, {"fields": ["item", "ad_id", "status", "ad_link", "published_at"]}),
        (
            "Publishing",
            {
                "fields": [
                    "request_id",
                    "tradera_item_id",
                    "committed",
                    "commit_acknowledged",
                    "attempts",
                    "next_attempt_at",
                    "locked_until",
                    "error_code",
                    "error_message",
                ]
            },
        ),
        ("Changes and issues", {"fields": ["wanted_price", "end_wanted", "issues"]}),
        ("Relisting", {"fields": ["relist_count", "previous_tradera_item_id"]}),
        ("Sale", {"fields": ["sale_price", "sold_at", "tradera_order_id", "buyer_alias"]}),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = ["ad_link"]
    actions = ["retry_publish", "end_listing"]

    @admin.display(description="Partner", ordering="item__partner__name")
    def partner(self, listing):
        return listing.item.partner

    @admin.display(description="Mode", ordering="item__livemode")
    def mode(self, listing):
        return "live" if listing.item.livemode else "test"

    @admin.display(description="Issues", boolean=True)
    def has_issues(self, listing):
        return bool(listing.issues)

    @admin.display(description="Ad")
    def ad_link(self, listing):
        if not listing.ad_url:
            return "—"
        return format_html('<a href="{}" rel="noopener">{}</a>', listing.ad_url, listing.ad_url)

    @admin.action(description="Retry failed publish (never a second auction)")
    def retry_publish(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda listing: services.retry_publish(listing=listing),
            done="queued for publishing again",
            unchanged="unchanged",
        )

    @admin.action(description="End Tradera listing (an auction with bids runs on)")
    def end_listing(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda listing: services.end_listing(listing=listing),
            done="being ended",
            unchanged="already being ended",
        )


@admin.register(TraderaAccount)
class TraderaAccountAdmin(ReadOnlyAdmin):
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
    list_filter = [mode_filter()]
    search_fields = ["partner__name", "=user_id"]
    list_select_related = ["partner"]
    fields = [
        "partner",
        "livemode",
        "user_id",
        "token_expires_at",
        "last_synced_at",
        "last_sync_error",
        "synced_until",
        "created_at",
    ]
    actions = ["sync_now"]

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda account: sync.request_sync(account=account),
            done="queued for a sync pass",
            unchanged="unchanged",
        )

    def changelist_view(self, request, extra_context=None):
        quotas = []
        for livemode, name in ((True, "Tradera (live keys)"), (False, "Sandbox (test keys)")):
            budget = for_mode(livemode).budget
            assert isinstance(budget, CallBudget)  # for_mode's clients count their calls
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


@admin.register(RelistRules)
class RelistRulesAdmin(ReadOnlyAdmin):
    """Read-only: partners set their relist rules in the dashboard or the Management API."""

    list_display = [
        "partner",
        "enabled",
        "max_relists",
        "step_percent",
        "step_amount",
        "floor_price",
        "floor_percent",
        "wait_hours",
        "marketplace_only_at_floor",
    ]
    list_filter = ["enabled"]
    search_fields = ["partner__name"]
    list_select_related = ["partner"]
