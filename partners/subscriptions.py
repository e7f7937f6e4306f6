"""Subscriptions: every change to a partner's plan, and the plan's limits where they bite.

- A partner is on its Subscription's plan; a partner without one is on the default plan.
- Periods are calendar months from the subscription's anchor. Rheo records plans and
  periods; it does not invoice (yet), so nothing is prorated.
- Changing plan takes effect at once and keeps the current period.
- Cancelling is at period end, as in Stripe: the plan stays until `current_period_end`,
  then the subscription ends (`canceled`) and the partner falls back to the default plan.
  Resuming before then withdraws the cancellation; after it, choosing a plan starts a new
  subscription.
- Periods move on in `roll_subscription_periods` (beat, every minute). Every service here
  does the same first for the row it locks, so none acts on a period that is over.
- Limits count per mode: test items and test keys have an allowance of their own of the
  same size, so test mode never uses up live limits (and an ERP can try the refusal in
  test mode). A plan limit refusal is `plan_limit_reached` (402).
"""

import calendar
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from partners.models import ApiKey, Partner, Plan, Subscription, SubscriptionChange, User
from rheo.errors import ServiceError


def default_plan() -> Plan:
    return Plan.objects.get(is_default=True)


def public_plans() -> list[Plan]:
    """The plans a partner may choose, cheapest first (as staff order them)."""
    return list(Plan.objects.filter(is_public=True))


def plan_of(partner: Partner) -> Plan:
    """The plan whose limits apply to the partner now."""
    subscription = Subscription.objects.select_related("plan").filter(partner=partner).first()
    return subscription.plan if subscription else default_plan()


def start_subscription(*, partner: Partner, plan: Plan | None = None) -> Subscription:
    """The partner's first subscription (create_partner): on `plan`, by default the
    default plan, with a period starting now."""
    now = timezone.now()
    plan = plan or default_plan()
    with transaction.atomic():
        subscription = Subscription.objects.create(
            partner=partner,
            plan=plan,
            billing_cycle_anchor=now,
            current_period_start=now,
            current_period_end=add_months(now, 1),
        )
        _record(subscription, SubscriptionChange.Kind.STARTED, None, plan, None, now)
    return subscription


def change_plan(
    *, partner: Partner, plan_code: str, changed_by: User | None = None, staff: bool = False
) -> Subscription:
    """Move the partner to another plan at once, keeping the current period; after a
    cancelled subscription ended, start a new one from now. Partners choose among public
    plans; staff (`staff=True`) may choose any. Choosing the current plan changes nothing.
    A smaller plan is allowed over its limits: what exists stays, and creating more is
    refused until usage is under them."""
    plan = Plan.objects.filter(code=plan_code).first()
    if plan is None or not (plan.is_public or staff):
        codes = ", ".join(p.code for p in public_plans())
        message = f"No plan {plan_code!r} to choose; the plans are: {codes}."
        raise ServiceError("validation_error", message, fields={"plan": [message]})
    now = timezone.now()
    with transaction.atomic():
        subscription = _lock_subscription(partner, now)
        previous = subscription.plan
        if subscription.status == Subscription.Status.CANCELED:
            subscription.status = Subscription.Status.ACTIVE
            subscription.ended_at = None
            subscription.billing_cycle_anchor = subscription.current_period_start = now
            subscription.current_period_end = add_months(now, 1)
            kind = SubscriptionChange.Kind.STARTED
        elif previous.pk == plan.pk:
            return subscription
        else:
            kind = SubscriptionChange.Kind.PLAN_CHANGED
        subscription.plan = plan
        subscription.save()
        _record(subscription, kind, previous, plan, changed_by, now)
    return subscription


def cancel_subscription(*, partner: Partner, changed_by: User | None = None) -> Subscription:
    """Cancel at the end of the current period (asking twice is harmless)."""
    now = timezone.now()
    with transaction.atomic():
        subscription = _lock_subscription(partner, now)
        if subscription.status == Subscription.Status.CANCELED:
            raise ServiceError(
                "conflict",
                f"The subscription has already ended; you are on the {subscription.plan} plan.",
            )
        if subscription.plan.is_default:
            raise ServiceError(
                "conflict",
                f"The {subscription.plan} plan has nothing to cancel: it is the plan a "
                "cancelled subscription falls back to.",
            )
        if not subscription.cancel_at_period_end:
            subscription.cancel_at_period_end = True
            subscription.save(update_fields=["cancel_at_period_end", "updated_at"])
            kind = SubscriptionChange.Kind.CANCEL_SCHEDULED
            _record(subscription, kind, subscription.plan, None, changed_by, now)
    return subscription


def resume_subscription(*, partner: Partner, changed_by: User | None = None) -> Subscription:
    """Withdraw a cancellation before the period ends (harmless when there is none)."""
    now = timezone.now()
    with transaction.atomic():
        subscription = _lock_subscription(partner, now)
        if subscription.status == Subscription.Status.CANCELED:
            raise ServiceError(
                "conflict",
                "The subscription has ended and cannot be resumed; choose a plan to start a "
                "new one.",
            )
        if subscription.cancel_at_period_end:
            subscription.cancel_at_period_end = False
            subscription.save(update_fields=["cancel_at_period_end", "updated_at"])
            kind = SubscriptionChange.Kind.RESUMED
            _record(subscription, kind, None, subscription.plan, changed_by, now)
    return subscription


def update_subscription(
    *,
    partner: Partner,
    plan_code: str | None = None,
    cancel_at_period_end: bool | None = None,
    changed_by: User | None = None,
) -> None:
    """What the Analytics API's PUT asks, all or nothing: a change of plan, then a
    cancellation at period end (True) or its withdrawal (False)."""
    with transaction.atomic():
        if plan_code is not None:
            change_plan(partner=partner, plan_code=plan_code, changed_by=changed_by)
        if cancel_at_period_end is True:
            cancel_subscription(partner=partner, changed_by=changed_by)
        elif cancel_at_period_end is False:
            resume_subscription(partner=partner, changed_by=changed_by)


def roll_subscription_periods(*, limit: int = 500) -> int:
    """Beat: renew the active subscriptions whose period is over, and end those cancelled
    at period end (the partner then has the default plan's limits). Each row is locked
    and checked again, so this may run beside the services. Returns the rows rolled."""
    now = timezone.now()
    due = list(
        Subscription.objects.filter(
            status=Subscription.Status.ACTIVE, current_period_end__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        with transaction.atomic():
            subscription = _locked_rows().filter(pk=pk).first()
            if subscription is not None:
                _roll(subscription, now)
    return len(due)


# --- Limits -----------------------------------------------------------------------------


def ensure_room_for_api_key(*, partner: Partner, mode: str) -> None:
    """Refuse another unrevoked key of `mode` beyond the plan's max_api_keys. Call inside
    the transaction that creates the key: the subscription row stays locked until it
    commits, so concurrent creations count one after the other."""
    plan = _lock_subscription(partner, timezone.now()).plan
    if plan.max_api_keys is None:
        return
    used = ApiKey.objects.filter(partner=partner, mode=mode, revoked_at__isnull=True).count()
    if used >= plan.max_api_keys:
        raise ServiceError(
            "plan_limit_reached",
            f"Your plan {plan.name} allows {plan.max_api_keys} {mode} API keys; you have "
            f"{used}. Revoke a key you no longer use, or change to a larger plan.",
        )


def item_limit_error(*, plan_name: str, limit: int, used: int, livemode: bool) -> ServiceError:
    """The refusal of an item create beyond the plan's max_active_items (the database
    enforces the limit on every INSERT: items migration 0007)."""
    noun = "active items" if livemode else "active test items"
    return ServiceError(
        "plan_limit_reached",
        f"Your plan {plan_name} allows {limit} {noun} (in draft or active); you have "
        f"{used}. Updates to existing items still work. To create more, change to a larger "
        "plan, or make room: set items to not_listed or sold, or delete them.",
    )


# --- Periods ----------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, or the month's last day when it is shorter."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _period_containing(anchor: datetime, moment: datetime) -> tuple[datetime, datetime]:
    """The period (anchor + n months, anchor + n + 1 months) that contains `moment`."""
    months = (moment.year - anchor.year) * 12 + moment.month - anchor.month
    while months > 0 and add_months(anchor, months) > moment:
        months -= 1
    while add_months(anchor, months + 1) <= moment:
        months += 1
    return add_months(anchor, months), add_months(anchor, months + 1)


def _roll(subscription: Subscription, now: datetime) -> None:
    """Bring a locked subscription's period up to `now`: renew it, or end it at the end
    of a cancelled period (the end is recorded at that moment, not when it is noticed)."""
    if subscription.status != Subscription.Status.ACTIVE or subscription.current_period_end > now:
        return
    if subscription.cancel_at_period_end:
        ended_at = subscription.current_period_end
        previous, fallback = subscription.plan, default_plan()
        subscription.plan = fallback
        subscription.status = Subscription.Status.CANCELED
        subscription.cancel_at_period_end = False
        subscription.ended_at = ended_at
        subscription.save()
        _record(subscription, SubscriptionChange.Kind.ENDED, previous, fallback, None, ended_at)
        return
    subscription.current_period_start, subscription.current_period_end = _period_containing(
        subscription.billing_cycle_anchor, now
    )
    subscription.save(update_fields=["current_period_start", "current_period_end", "updated_at"])


def _locked_rows() -> QuerySet[Subscription]:
    # of=("self",): lock the subscription, not the plan it joins (shared by many partners).
    return Subscription.objects.select_for_update(of=("self",)).select_related("plan")


def _lock_subscription(partner: Partner, now: datetime) -> Subscription:
    """The partner's subscription, locked until the caller's transaction ends, with its
    period brought up to now; created on the default plan when the partner has none."""
    subscription = _locked_rows().filter(partner=partner).first()
    if subscription is None:
        try:
            with transaction.atomic():
                start_subscription(partner=partner)
        except IntegrityError:
            pass  # created meanwhile by a concurrent request
        subscription = _locked_rows().get(partner=partner)
    _roll(subscription, now)
    return subscription


def _record(
    subscription: Subscription,
    kind: str,
    from_plan: Plan | None,
    to_plan: Plan | None,
    changed_by: User | None,
    at: datetime,
) -> None:
    SubscriptionChange.objects.create(
        subscription=subscription,
        kind=kind,
        from_plan=from_plan,
        to_plan=to_plan,
        changed_by=changed_by,
        at=at,
    )
