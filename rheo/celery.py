"""Celery, configured as its Django guide shows: CELERY_* settings, tasks found in each
app's tasks.py.

A Celery message is only a nudge: the work it names is a row or a field written in the
transaction that made it due, and a sweeper nudges again whatever a lost message left
behind. So sending one is best effort (`nudge`, `nudge_on_commit`): a broker that is down
or slow is logged and never fails, or undoes, the change that was committed."""

import logging
import os
from functools import partial

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")

logger = logging.getLogger(__name__)

app = Celery("rheo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# A message held for its countdown longer than the broker's visibility timeout would be
# handed out twice; work due later than this is left to the sweepers, which find it due.
LONGEST_COUNTDOWN = 60


def nudge(task_name: str, *args, countdown: float | None = None) -> bool:
    """Send the task now (by name: services need not import the tasks that call them);
    False, logged, when the broker would not take it."""
    if countdown is not None and countdown > LONGEST_COUNTDOWN:
        return False
    try:
        app.send_task(task_name, args=list(args), countdown=countdown)
    except Exception:
        logger.warning("nudge %s%r not sent; the sweeper will find the work", task_name, args)
        return False
    return True


def nudge_on_commit(task_name: str, *args, countdown: float | None = None) -> None:
    """Send the task once the current transaction commits (at once outside one), so a
    worker never looks for rows that are not there yet, nor for ones rolled back."""
    from django.db import transaction

    transaction.on_commit(partial(nudge, task_name, *args, countdown=countdown), robust=True)


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_between_requests(sender=None, **_):
    """A worker keeps its database connection from task to task as long as a web process
    keeps one between requests (CONN_MAX_AGE, with its health check), and drops one that
    failed (a PostgreSQL restart) before the next task, as Django does between requests.
    CELERY_DB_REUSE_MAX keeps Celery's own Django fixup from closing it first."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
