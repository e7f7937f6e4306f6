from django.db.models import Prefetch, QuerySet

from partners.models import Partner
from webhooks.models import Delivery, Event, WebhookEndpoint


def get_endpoint(*, partner: Partner, livemode: bool) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(partner=partner, livemode=livemode).first()


def deliveries_for(
    *,
    partner: Partner,
    event_type: str | None = None,
    status: str | None = None,
    external_id: str | None = None,
) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(event__partner=partner).select_related("event", "endpoint")
    if event_type:
        deliveries = deliveries.filter(event__event_type=event_type)
    if status:
        deliveries = deliveries.filter(status=status)
    if external_id:
        deliveries = deliveries.filter(event__external_id=external_id)
    return deliveries


def events_for(
    *, partner: Partner, external_id: str | None = None, event_type: str | None = None
) -> QuerySet[Event]:
    events = Event.objects.filter(partner=partner).prefetch_related(
        Prefetch("deliveries", queryset=Delivery.objects.order_by("created_at"))
    )
    if external_id:
        events = events.filter(external_id=external_id)
    if event_type:
        events = events.filter(event_type=event_type)
    return events
