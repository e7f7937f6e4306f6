"""Thin Celery wrappers. A message carries only an item id; the row says what is due, so
a duplicate or stale message does nothing (see items.pipeline)."""

from celery import shared_task

from items import orders, pipeline, reconciliations
from items.imports import services as imports


@shared_task(name="items.process_item", ignore_result=True, soft_time_limit=240, time_limit=270)
def process_item(item_id: str) -> None:
    pipeline.process_item(item_id=item_id)


@shared_task(name="items.process_backlog", ignore_result=True, soft_time_limit=240, time_limit=270)
def process_backlog(partner_id: str, slot: int, generation: int) -> None:
    pipeline.process_backlog(partner_id=partner_id, slot=slot, generation=generation)


@shared_task(name="items.sweep_items", ignore_result=True)
def sweep_items() -> int:
    return pipeline.sweep_items()


@shared_task(name="items.expire_unpaid_orders", ignore_result=True)
def expire_unpaid_orders() -> int:
    return orders.expire_unpaid_orders()


@shared_task(name="items.apply_reconciliation", ignore_result=True)
def apply_reconciliation(reconciliation_id: str) -> None:
    reconciliations.run_apply(reconciliation_id=reconciliation_id)


@shared_task(name="items.sweep_reconciliations", ignore_result=True)
def sweep_reconciliations() -> int:
    return reconciliations.sweep_reconciliations()


@shared_task(name="items.run_stock_import", ignore_result=True)
def run_stock_import(import_id: str) -> None:
    imports.run_job(import_id=import_id)


@shared_task(name="items.sweep_stock_imports", ignore_result=True)
def sweep_stock_imports() -> int:
    return imports.sweep_imports()
