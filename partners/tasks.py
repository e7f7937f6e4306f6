"""Thin Celery wrappers."""

from celery import shared_task

from partners import key_cache, subscriptions


@shared_task(name="partners.roll_subscription_periods", ignore_result=True)
def roll_subscription_periods() -> int:
    return subscriptions.roll_subscription_periods()


@shared_task(name="partners.flush_api_key_usage", ignore_result=True)
def flush_api_key_usage() -> int:
    return key_cache.flush_usage()
