"""The Partner admin lives here, in the top layer, because it shows each partner's item
counts (items.selectors); the other partners admins are in partners/admin.py."""

from django.contrib import admin
from django.db.models import Count

from items import selectors as items
from partners import services
from partners.models import ApiKey, Partner, User
from rheo.admin import ReadOnlyInline, act_on_each

# The staff admin's name on every page (the top layer's admin module is loaded last).
admin.site.site_header = "Rheo staff admin"
admin.site.site_title = "Rheo staff admin"
admin.site.index_title = "Partners, items, orders, Tradera and webhooks"
# The model list is on the index page; without the sidebar a list has the whole width.
admin.site.enable_nav_sidebar = False


class UserInline(admin.TabularInline):
    model = User
    fields = ["email", "is_active", "last_login"]
    readonly_fields = ["last_login"]
    extra = 0
    show_change_link = True


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = ["prefix", "name", "mode", "created_at", "last_used_at", "revoked_at"]
    show_change_link = True


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    """Partners are disabled and enabled with the actions (which refuse their keys and
    users at once), never deleted here: deleting one would delete its items' history."""

    list_display = ["name", "is_active", "users", "live_items", "test_items", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "users__email"]
    readonly_fields = ["is_active", "created_at"]
    inlines = [UserInline, ApiKeyInline]
    actions = ["disable", "enable"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                user_count=Count("users"),
                live_item_count=items.current_item_count(livemode=True),
                test_item_count=items.current_item_count(livemode=False),
            )
        )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Users", ordering="user_count")
    def users(self, partner):
        return partner.user_count

    @admin.display(description="Live items", ordering="live_item_count")
    def live_items(self, partner):
        return partner.live_item_count

    @admin.display(description="Test items", ordering="test_item_count")
    def test_items(self, partner):
        return partner.test_item_count

    @admin.action(description="Disable partner (refuse its API keys and users at once)")
    def disable(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda partner: services.disable_partner(partner=partner),
            done="disabled",
            unchanged="already disabled",
        )

    @admin.action(description="Enable partner")
    def enable(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda partner: services.enable_partner(partner=partner),
            done="enabled",
            unchanged="already enabled",
        )
