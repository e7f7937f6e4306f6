"""Emails to a marketplace buyer about their order."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from items.models import Order

SUBJECTS = {
    "placed": "Tack för din beställning {reference}",
    "paid": "Betalning mottagen för {reference}",
    "shipped": "Din beställning {reference} är skickad",
    "cancelled": "Din beställning {reference} är avbruten",
}


def order_page_url(order: Order) -> str:
    return settings.RHEO_PUBLIC_URL + reverse("market:order", args=[order.access_key])


def email_buyer_on_commit(order: Order, kind: str) -> None:
    # Sent once the order's change has committed; a mail server that fails is logged and
    # never undoes the change (the order's page says the same as the email).
    transaction.on_commit(lambda: _email_buyer(order, kind), robust=True)


def _email_buyer(order: Order, kind: str) -> None:
    context = {"order": order, "url": order_page_url(order)}
    send_mail(
        subject=SUBJECTS[kind].format(reference=order.reference),
        message=render_to_string(f"market/emails/order_{kind}.txt", context),
        from_email=None,
        recipient_list=[order.buyer_email],
    )
