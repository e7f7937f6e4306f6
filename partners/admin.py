from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from partners import services
from partners.models import ApiKey, Partner, User


class UserInline(admin.TabularInline):
    model = User
    fields = ["email", "is_active", "last_login"]
    readonly_fields = ["last_login"]
    extra = 0
    show_change_link = True


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "users__email"]
    inlines = [UserInline]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "partner", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_active"]
    search_fields = ["email", "partner__name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "partner"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "partner", "password1", "password2"]})]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued by the partner (or create_api_key), never here; the digest is not
    shown."""

    list_display = ["prefix", "name", "partner", "mode", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["mode", "revoked_at"]
    search_fields = ["prefix", "name", "partner__name"]
    fields = ["partner", "name", "mode", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            services.revoke_api_key(api_key=api_key)
