import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from items.dispatch import Dispatcher

logger = logging.getLogger("items.dispatch")


class Command(BaseCommand):
    help = (
        "Publish the Celery nudges of item jobs that PUTs made due (PostgreSQL: LISTEN for "
        "committed rows, catch up on start). Runs until SIGTERM; one or more per deployment."
    )

    def handle(self, *args, **options):
        if not settings.RHEO_JOB_DISPATCHER:
            # `make run` on SQLite starts every Procfile process; this one has nothing to
            # do there (PUTs publish their own nudges), but must not end the others.
            logger.info("dispatcher: not in use (RHEO_JOB_DISPATCHER off); idling")
            stop = {signal.SIGTERM, signal.SIGINT}
            signal.pthread_sigmask(signal.SIG_BLOCK, stop)
            signal.sigwait(stop)
            return
        Dispatcher().run()
