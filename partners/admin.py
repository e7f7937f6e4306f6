from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from partners import services, subscriptions
from partners.models import ApiKey, BacklogToken, Plan, Subscription, SubscriptionChange, User
from rheo.admin import ReadOnlyInline, act_on_each


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
    readonly_fields = (
        "partner",
        "name",
        "mode",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    fields = readonly_fields
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


# --- Subscriptions ----------------------------------------------------------------------


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Plans are data: staff edit prices and limits here (an empty limit is unlimited).
    Exactly one plan is the default; it cannot be deleted, nor can a plan in use."""

    list_display = [
        "name",
        "code",
        "monthly_price_sek",
        "active_items_limit",
        "api_keys_limit",
        "is_default",
        "is_public",
        "subscribers",
        "position",
    ]
    list_filter = ["is_public", "is_default"]
    search_fields = ["name", "code"]
    fields = [
        "name",
        "code",
        "monthly_price_sek",
        "max_active_items",
        "max_api_keys",
        "is_default",
        "is_public",
        "position",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(subscriber_count=Count("subscriptions"))

    @admin.display(description="active items", ordering="max_active_items")
    def active_items_limit(self, plan):
        return "unlimited" if plan.max_active_items is None else plan.max_active_items

    @admin.display(description="API keys per mode", ordering="max_api_keys")
    def api_keys_limit(self, plan):
        return "unlimited" if plan.max_api_keys is None else plan.max_api_keys

    @admin.display(ordering="subscriber_count")
    def subscribers(self, plan):
        return plan.subscriber_count

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_default)


class SubscriptionChangeInline(ReadOnlyInline):
    model = SubscriptionChange
    fields = ["at", "kind", "from_plan", "to_plan", "changed_by"]


class PlanActionForm(ActionForm):
    plan = forms.ModelChoiceField(
        Plan.objects.all(), required=False, empty_label="(plan)", label="Plan"
    )


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Changes go through partners.subscriptions (the actions), which record each one
    with the staff member who made it. Staff may choose any plan, public or not."""

    list_display = [
        "partner",
        "plan",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "updated_at",
    ]
    list_filter = ["plan", "status", "cancel_at_period_end"]
    search_fields = ["partner__name", "partner__users__email"]
    list_select_related = ["partner", "plan"]
    readonly_fields = (
        "partner",
        "plan",
        "status",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "ended_at",
        "billing_cycle_anchor",
        "created_at",
    )
    fields = readonly_fields
    inlines = [SubscriptionChangeInline]
    action_form = PlanActionForm
    actions = ["change_to_chosen_plan", "cancel_at_period_end", "resume"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Change to the chosen plan (at once)", permissions=["change"])
    def change_to_chosen_plan(self, request, queryset):
        plan_id = request.POST.get("plan")
        plan = Plan.objects.filter(pk=plan_id).first() if plan_id else None
        if plan is None:
            self.message_user(request, "Choose a plan beside the action.", messages.ERROR)
            return

        def move(subscription):
            if (
                subscription.plan_id == plan.pk
                and subscription.status == Subscription.Status.ACTIVE
            ):
                return False
            subscriptions.change_plan(
                partner=subscription.partner,
                plan_code=plan.code,
                changed_by=request.user,
                staff=True,
            )

        act_on_each(
            self,
            request,
            queryset.select_related("partner"),
            move,
            done=f"moved to {plan}",
            unchanged=f"already on {plan}",
        )

    @admin.action(description="Cancel at period end", permissions=["change"])
    def cancel_at_period_end(self, request, queryset):
        def cancel(subscription):
            if subscription.cancel_at_period_end:
                return False
            subscriptions.cancel_subscription(partner=subscription.partner, changed_by=request.user)

        act_on_each(
            self,
            request,
            queryset.select_related("partner"),
            cancel,
            done="set to cancel at period end",
            unchanged="already cancelling",
        )

    @admin.action(description="Resume (withdraw the cancellation)", permissions=["change"])
    def resume(self, request, queryset):
        def resume(subscription):
            if not subscription.cancel_at_period_end:
                return False
            subscriptions.resume_subscription(partner=subscription.partner, changed_by=request.user)

        act_on_each(
            self,
            request,
            queryset.select_related("partner"),
            resume,
            done="resumed",
            unchanged="not cancelling",
        )


@admin.register(BacklogToken)
class BacklogTokenAdmin(admin.ModelAdmin):
    """Each partner's turns at background work (partners.backlog), to look at: a token
    with no beat is idle; one not heard of for the nudge grace is sent again by the
    sweeper. Nothing here is changed by hand."""

    list_display = ["partner", "kind", "slot", "generation", "beat_at"]
    list_filter = ["kind"]
    search_fields = ["partner__name"]
    list_select_related = ["partner"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
