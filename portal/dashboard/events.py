"""The Events page: the partner's events of the mode being viewed, newest first, with
search and filters; one event with its payload and deliveries, Send again and Replay
from here; a replay's progress. The same services as the Management API's
/api/v1/events…"""

from datetime import UTC, datetime, time, timedelta

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal.dashboard import forms
from portal.dashboard.base import paginate, partner_page, query_without_page
from rheo.errors import ServiceError
from webhooks import feed, replays
from webhooks.models import Event, EventReplay


def _day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@partner_page
def event_list(request):
    form = forms.EventFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    events = Event.objects.filter(partner=request.partner, livemode=request.livemode)
    if filters.get("q"):
        events = events.filter(Q(pk=filters["q"].strip()) | Q(external_id=filters["q"].strip()))
    if filters.get("event_type"):
        events = events.filter(event_type=filters["event_type"])
    if filters.get("created_after"):
        events = events.filter(created_at__gte=_day_start(filters["created_after"]))
    if filters.get("created_before"):
        end = _day_start(filters["created_before"]) + timedelta(days=1)  # the whole day
        events = events.filter(created_at__lt=end)
    events = feed.with_deliveries(events.order_by("-txid", "-position", "-id"))
    context = {
        "form": form,
        "page": paginate(request, events),
        "query": query_without_page(request),
    }
    return render(request, "dashboard/events.html", context)


@partner_page
def event_detail(request, event_id):
    event = get_object_or_404(
        feed.with_deliveries(Event.objects.filter(partner=request.partner)), pk=event_id
    )
    recent = EventReplay.objects.filter(partner=request.partner, livemode=event.livemode)
    recent = recent.order_by("-created_at")
    context = {"event": event, "replays": [replays.progress(r) for r in recent[:3]]}
    return render(request, "dashboard/event.html", context)


@require_POST
@partner_page
def replay_from(request, event_id):
    """Replay from this event to now: the events of its mode the endpoint subscribes to."""
    event = get_object_or_404(Event, pk=event_id, partner=request.partner)
    try:
        replay = replays.start_replay(
            partner=request.partner, livemode=event.livemode, created_after=event.created_at
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:event", event_id=event.pk)
    messages.success(request, f"Replaying {replay.total_count} events from {event.pk} on.")
    return redirect("dashboard:event-replay", replay_id=replay.pk)


@partner_page
def replay_detail(request, replay_id):
    try:
        replay = replays.get_replay(partner=request.partner, replay_id=replay_id)
    except ServiceError:
        raise Http404("No such replay.") from None
    progress = replays.progress(replay)
    total = replay.total_count
    done = progress["succeeded"] + progress["failed"] + progress["skipped"]
    context = {
        "replay": replay,
        "progress": progress,
        "percent": min(100, round(100 * done / total)) if total else 100,
    }
    return render(request, "dashboard/replay.html", context)
