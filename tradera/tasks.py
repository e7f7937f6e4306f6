"""Thin Celery wrappers: a message carries a listing id; the row says what is due."""

from celery import shared_task

from tradera import guidance, services, sync


@shared_task(
    name="tradera.publish_listing", ignore_result=True, soft_time_limit=120, time_limit=150
)
def publish_listing(listing_id: int) -> None:
    services.publish_listing(listing_id=listing_id)


@shared_task(
    name="tradera.publish_backlog", ignore_result=True, soft_time_limit=120, time_limit=150
)
def publish_backlog(partner_id: str, slot: int, generation: int) -> None:
    services.publish_backlog(partner_id=partner_id, slot=slot, generation=generation)


@shared_task(name="tradera.sweep_listings", ignore_result=True)
def sweep_listings() -> int:
    return services.sweep_listings()


@shared_task(name="tradera.sync_account", ignore_result=True, soft_time_limit=240, time_limit=270)
def sync_account(account_id: int) -> None:
    sync.sync_account(account_id=account_id)


@shared_task(name="tradera.sync_all_accounts", ignore_result=True)
def sync_all_accounts() -> int:
    return sync.sync_all_accounts()


@shared_task(name="tradera.follow_item", ignore_result=True, soft_time_limit=60, time_limit=90)
def follow_item(item_id: str) -> None:
    services.follow_item(item_id=item_id)


@shared_task(name="tradera.apply_changes", ignore_result=True, soft_time_limit=120, time_limit=150)
def apply_changes(listing_id: int) -> None:
    services.apply_changes(listing_id=listing_id)


@shared_task(name="tradera.update_price_guidance", ignore_result=True)
def update_price_guidance(item_id: str) -> None:
    guidance.update_for_item(item_id=item_id)


@shared_task(name="tradera.sweep_price_guidance", ignore_result=True)
def sweep_price_guidance() -> int:
    return guidance.sweep_updates()


@shared_task(name="tradera.refresh_price_guidance", ignore_result=True)
def refresh_price_guidance() -> int:
    return guidance.refresh_all()
