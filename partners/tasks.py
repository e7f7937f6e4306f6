"""Thin Celery wrappers."""

from celery import shared_task

from partners import subscriptions


@shared_task(name="partners.roll_subscription_periods", ignore_result=True)
def roll_subscription_periods() -> int:
    return subscriptions.roll_subscription_periods()
