from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from items import selectors as items
from partners import services
from partners.models import ApiKey, Partner, User
from rheo.admin import ReadOnlyInline, act_on_each


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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "partner", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_active", "partner"]
    search_fields = ["email", "partner__name"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]
    fieldsets = [
        (None, {"fields": ["email", "password", "partner"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "partner", "password1", "password2"]})]


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("usable", "Usable"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() in ("usable", "revoked"):
            return queryset.filter(revoked_at__isnull=self.value() == "usable")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued by the partner (or create_api_key), never here; the digest is not
    shown."""

    list_display = ["prefix", "name", "partner", "mode", "created_at", "last_used_at", "revoked_at"]
    list_filter = [RevokedFilter, "mode", "partner"]
    search_fields = ["prefix", "name", "partner__name"]
    list_select_related = ["partner"]
    fields = ["partner", "name", "mode", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoked keys stay, so the partner's list tells what was used when

    @admin.action(description="Revoke the selected keys (refused from their next request)")
    def revoke(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda api_key: services.revoke_api_key(api_key=api_key),
            done="revoked",
            unchanged="already revoked",
        )
