import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")

app = Celery("rheo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def send_on_commit(task_name: str, *args, countdown: float | None = None) -> None:
    """Send the task once the current transaction commits (at once outside one), so a
    worker never looks for rows that are not there yet, nor for ones rolled back."""
    from django.db import transaction

    transaction.on_commit(lambda: app.send_task(task_name, args=list(args), countdown=countdown))
