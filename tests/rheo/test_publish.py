"""rheo.celery.publish_task sends what Celery's send_task sends."""

from rheo.celery import app as celery_app
from rheo.celery import publish_task

TASK = "items.process_item_images"
IDS = {"id", "root_id", "correlation_id", "delivery_tag"}


def published_message(queue: str) -> dict:
    """The one message waiting on `queue`, ids masked."""
    with celery_app.connection_for_read() as connection:
        simple = connection.SimpleQueue(queue)
        message = simple.get(timeout=1)
        message.ack()
        assert simple.qsize() == 0
        simple.close()

    def masked(values: dict) -> dict:
        return {k: ("<id>" if k in IDS else v) for k, v in values.items()}

    return {
        "headers": masked(message.headers),
        "properties": masked(message.properties),
        "delivery_info": message.delivery_info,
        "content_type": message.content_type,
        "body": message.decode(),
    }


def test_publish_task_sends_the_message_send_task_sends(broker_messages):
    celery_app.send_task(TASK, args=["item-1"])
    sent_by_celery = published_message("images")

    publish_task(TASK, "item-1")
    sent_by_rheo = published_message("images")

    assert sent_by_rheo == sent_by_celery
    assert sent_by_rheo["headers"]["task"] == TASK
    assert sent_by_rheo["body"][0] == ["item-1"]
