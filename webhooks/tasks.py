"""Thin Celery wrappers. A message carries only an id; the row says what is due, so a
duplicate or stale message does nothing (see webhooks.services)."""

from celery import shared_task

from webhooks import replays, services


@shared_task(name="webhooks.deliver", ignore_result=True, soft_time_limit=60, time_limit=90)
def deliver(delivery_id: str) -> None:
    services.attempt_delivery(delivery_id=delivery_id)


@shared_task(name="webhooks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> int:
    return services.sweep_deliveries()


@shared_task(name="webhooks.run_replay", ignore_result=True, soft_time_limit=120, time_limit=150)
def run_replay(replay_id: str) -> None:
    replays.run_replay(replay_id=replay_id)


@shared_task(name="webhooks.sweep_replays", ignore_result=True)
def sweep_replays() -> int:
    return replays.sweep_replays()
