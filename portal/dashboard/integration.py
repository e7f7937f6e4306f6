"""The Integration pages: API keys, webhook settings, the delivery log and the Tradera
connection. Each action is a POST that calls a service and redirects (post/redirect/get),
with the outcome in a message."""

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from partners import services as partner_services
from partners.models import ApiKey
from portal.dashboard import forms
from portal.dashboard.base import MODE_SESSION_KEY, paginate, partner_page, query_without_page
from rheo.errors import ServiceError
from tradera import connect
from tradera.models import RelistRules, TraderaAccount
from webhooks import selectors as webhook_selectors
from webhooks import services as webhook_services
from webhooks.models import SUBSCRIBABLE_EVENT_TYPES, Event

# The new key, kept in the session for the one page view that shows it.
NEW_KEY_SESSION_KEY = "dashboard_new_api_key"
# The Tradera login under way: its secret key and mode, until the partner comes back.
TRADERA_LOGIN_SESSION_KEY = "dashboard_tradera_login"


@partner_page
def integration(request):
    keys = ApiKey.objects.filter(partner=request.partner).order_by("revoked_at", "-created_at")
    endpoint = webhook_selectors.get_endpoint(partner=request.partner, livemode=request.livemode)
    context = {
        "keys": keys,
        "new_key": request.session.pop(NEW_KEY_SESSION_KEY, None),
        "key_form": forms.ApiKeyForm(initial={"mode": "live" if request.livemode else "test"}),
        "endpoint": endpoint,
        **_tradera_context(request),
    }
    return render(request, "dashboard/integration.html", context)


@partner_page
def relist_rules(request):
    """The partner's relist rules: how unsold Tradera auctions are relisted, lower each time."""
    rules = RelistRules.objects.filter(partner=request.partner).first() or RelistRules(
        partner=request.partner
    )
    form = forms.RelistRulesForm(request.POST or None, instance=rules)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Relist rules saved.")
        return redirect("dashboard:relist-rules")
    return render(request, "dashboard/relist_rules.html", {"form": form})


@require_POST
@partner_page
def create_key(request):
    form = forms.ApiKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the key a name and a mode.")
        return redirect("dashboard:integration")
    try:
        issued = partner_services.create_api_key(
            partner=request.partner, name=form.cleaned_data["name"], mode=form.cleaned_data["mode"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:integration")
    request.session[NEW_KEY_SESSION_KEY] = {"name": issued.api_key.name, "key": issued.secret}
    return redirect("dashboard:integration")


@require_POST
@partner_page
def revoke_key(request, key_id):
    api_key = get_object_or_404(ApiKey, pk=key_id, partner=request.partner)
    partner_services.revoke_api_key(api_key=api_key)
    messages.success(request, f"Key {api_key.name} ({api_key.prefix}…) is revoked.")
    return redirect("dashboard:integration")


@partner_page
def webhook_settings(request):
    """URL, events, the signing secret (revealed on request), rotate, send a test."""
    endpoint = webhook_selectors.get_endpoint(partner=request.partner, livemode=request.livemode)
    if request.method == "POST":
        form = forms.WebhookForm(request.POST)
        if form.is_valid():
            try:
                webhook_services.configure_endpoint(
                    partner=request.partner,
                    livemode=request.livemode,
                    url=form.cleaned_data["url"],
                    enabled=form.cleaned_data["enabled"],
                    event_types=form.cleaned_data["event_types"],
                )
            except ServiceError as exc:
                form.add_error("url" if "url" in (exc.fields or {}) else None, exc.message)
            else:
                messages.success(request, "Webhook settings saved.")
                return redirect("dashboard:webhooks")
    elif endpoint:
        form = forms.WebhookForm(
            initial={
                "url": endpoint.url,
                "enabled": endpoint.enabled,
                "event_types": endpoint.event_types,
            }
        )
    else:
        form = forms.WebhookForm(initial={"event_types": list(SUBSCRIBABLE_EVENT_TYPES)})
    reveal = request.GET.get("reveal") == "1"
    context = {
        "form": form,
        "endpoint": endpoint,
        "secret": endpoint.secret if endpoint and reveal else None,
        "retries": len(webhook_services.RETRY_DELAYS),
        "retry_hours": round(webhook_services.RETRY_SPAN / timedelta(hours=1)),
    }
    return render(request, "dashboard/webhooks.html", context)


@require_POST
@partner_page
def rotate_webhook_secret(request):
    endpoint = webhook_selectors.get_endpoint(partner=request.partner, livemode=request.livemode)
    if endpoint is None:
        messages.error(request, "Set a webhook URL first.")
        return redirect("dashboard:webhooks")
    webhook_services.rotate_secret(endpoint=endpoint)
    messages.success(
        request, "A new signing secret is in use; the previous one also signs for 24 hours."
    )
    return redirect("/dashboard/integration/webhooks/?reveal=1")


@require_POST
@partner_page
def send_test_webhook(request):
    try:
        event, _ = webhook_services.send_test_event(
            partner=request.partner, livemode=request.livemode
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:webhooks")
    messages.success(request, f"Test event {event.id} sent; see it in the delivery log.")
    return redirect("dashboard:deliveries")


@partner_page
def delivery_list(request):
    form = forms.DeliveryFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    deliveries = (
        webhook_selectors.deliveries_for(
            partner=request.partner,
            event_type=filters.get("event_type"),
            status=filters.get("status"),
            external_id=filters.get("external_id"),
        )
        .filter(event__livemode=request.livemode)
        .order_by("-created_at")
    )
    context = {
        "form": form,
        "page": paginate(request, deliveries),
        "query": query_without_page(request),
    }
    return render(request, "dashboard/deliveries.html", context)


@partner_page
def delivery_detail(request, delivery_id):
    delivery = get_object_or_404(
        webhook_selectors.deliveries_for(partner=request.partner).prefetch_related("attempt_log"),
        pk=delivery_id,
    )
    attempts = list(delivery.attempt_log.all())
    context = {
        "delivery": delivery,
        "attempts": attempts,
        "last": attempts[-1] if attempts else None,
    }
    return render(request, "dashboard/delivery.html", context)


@require_POST
@partner_page
def redeliver(request, delivery_id):
    delivery = get_object_or_404(
        webhook_selectors.deliveries_for(partner=request.partner), pk=delivery_id
    )
    try:
        new = webhook_services.redeliver(delivery=delivery)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:delivery", delivery_id=delivery.pk)
    messages.success(request, f"Event {delivery.event_id} is being delivered again.")
    return redirect("dashboard:delivery", delivery_id=new.pk)


@require_POST
@partner_page
def send_event(request, event_id):
    """Send one of the partner's events (either mode) to its mode's current endpoint,
    as a new delivery; back to the page the button was on."""
    event = get_object_or_404(Event, pk=event_id, partner=request.partner)
    target = request.POST.get("next", "")
    if not target.startswith("/dashboard/"):
        target = reverse("dashboard:deliveries")
    try:
        webhook_services.resend_event(event=event)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Event {event.pk} is on its way to your webhook endpoint.")
    return redirect(target)


def _tradera_context(request) -> dict:
    """The Tradera connection of the mode being viewed."""
    account = TraderaAccount.objects.filter(
        partner=request.partner, livemode=request.livemode
    ).first()
    return {
        "tradera_account": account,
        "tradera_token": connect.token_health(account) if account else None,
        "tradera_live_configured": connect.live_configured(),
        "tradera_accept_url": request.build_absolute_uri(reverse("dashboard:tradera-accept")),
    }


@require_POST
@partner_page
def connect_tradera(request):
    """Off to the consent page of the viewed mode's Tradera (the sandbox's in test mode);
    the secret key and the mode wait in the session for the way back."""
    accept_url = request.build_absolute_uri(reverse("dashboard:tradera-accept"))
    try:
        login = connect.start_connection(livemode=request.livemode, accept_url=accept_url)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:integration")
    request.session[TRADERA_LOGIN_SESSION_KEY] = {
        "skey": login.secret_key,
        "livemode": request.livemode,
    }
    return redirect(login.url)


@partner_page
def tradera_accepted(request):
    """The accept URL (/dashboard/integration/tradera/accept): the partner consented as
    `userId`, in the mode the login was started in."""
    started = request.session.pop(TRADERA_LOGIN_SESSION_KEY, None)
    try:
        user_id = int(request.GET.get("userId", ""))
    except ValueError:
        user_id = None
    if not isinstance(started, dict) or user_id is None:
        messages.error(
            request, "That Tradera login was not started here, or it was already used. Try again."
        )
        return redirect("dashboard:integration")
    livemode = bool(started["livemode"])
    try:
        account = connect.complete_connection(
            partner=request.partner, livemode=livemode, user_id=user_id, secret_key=started["skey"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:integration")
    if livemode:
        messages.success(request, f"Tradera seller {account.user_id} is connected.")
    else:
        # Back in the mode the login was for, so the page shows what was connected.
        request.session[MODE_SESSION_KEY] = "test"
        messages.success(
            request,
            f"Sandbox Tradera seller {account.user_id} is connected: test items publish as it.",
        )
    return redirect("dashboard:integration")
