import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="items.process_item_images")
def process_item_images(item_id: str) -> None:
    """Enqueued after every PUT that creates an item or changes its image URLs.

    Downloading and hosting the images (which makes the item active) is not built yet: it
    arrives with the image pipeline. Until then the item stays draft."""
    logger.info("item %s: image processing is not built yet; the item stays draft", item_id)
