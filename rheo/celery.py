import os
import threading

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")

app = Celery("rheo")
app.autodiscover_tasks()


@app.on_configure.connect
def _settings_from_django(sender, **kwargs):
    """Celery's settings are Django's CELERY_* settings, copied into a plain dict when Celery
    first needs them. Celery looks settings up several times for every task it sends,
    trying each name in several spellings; on Django's lazy settings object each miss costs
    Python-level exceptions: ~70 µs of the ~425 µs a task costs to send (every PUT sends one)."""
    from django.conf import settings

    config = {
        name.removeprefix("CELERY_").lower(): getattr(settings, name)
        for name in dir(settings)
        if name.startswith("CELERY_")
    }
    # Celery's Django fixup reads this one by its Django name (see the task hooks below).
    config["CELERY_DB_REUSE_MAX"] = settings.CELERY_DB_REUSE_MAX
    sender.config_from_object(config)


def send_on_commit(task_name: str, *args, countdown: float | None = None) -> None:
    """Send the task once the current transaction commits (at once outside one), so a
    worker never looks for rows that are not there yet, nor for ones rolled back."""
    from django.db import transaction

    transaction.on_commit(lambda: send(task_name, *args, countdown=countdown))


_local = threading.local()


def send(task_name: str, *args, countdown: float | None = None) -> None:
    """Send a task: on a Redis broker, one LPUSH of the message (rheo.broker.TaskPublisher);
    with a countdown, or on another broker, through Celery with this thread's own producer,
    declaring no queue.

    Celery would take a producer from its pool and give it back, and declare the task's
    queue, for every message: together a fifth of sending one. A direct-exchange task goes
    straight to its queue, which the worker consuming it declares, so the declaration adds
    nothing; the producer is made once per thread (and again in a forked child), its
    connection revived by kombu's publish retry when the broker drops it."""
    if getattr(_local, "pid", None) != os.getpid():
        _local.publisher = _redis_publisher()
        _local.producer = app.amqp.Producer(app.connection_for_write(), auto_declare=False)
        _local.pid = os.getpid()
    if countdown is None and _local.publisher is not None:
        _local.publisher.send(task_name, list(args))
        return
    app.send_task(
        task_name,
        args=list(args),
        countdown=countdown,
        producer=_local.producer,
        declare=[],
        # The args shown in monitoring: ids, so plain repr() does what Celery's saferepr
        # (a tenth of sending) would.
        argsrepr=repr(list(args)),
        kwargsrepr="{}",
    )


def _redis_publisher():
    from rheo.broker import RedisTransport, TaskPublisher

    if app.conf.broker_transport != f"{RedisTransport.__module__}:{RedisTransport.__name__}":
        return None
    return TaskPublisher(app, app.conf.broker_url)


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_between_requests(sender=None, **_):
    """A worker keeps its database connection from task to task as long as a web process
    keeps one between requests (CONN_MAX_AGE, with its health check), where Celery would
    open a new one for every task (a few ms of CPU in the worker and in PostgreSQL).
    CELERY_DB_REUSE_MAX keeps Celery's own Django fixup from closing it first."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
