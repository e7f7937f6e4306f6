"""gunicorn settings (Procfile: `gunicorn -c python:rheo.gunicorn rheo.wsgi`)."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
# gunicornc's socket: one per copy (its var dir), not the one per user in ~/.gunicorn that
# a second copy on this machine would take over.
control_socket = os.path.join(
    os.environ.get("RHEO_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var")),
    "gunicorn.ctl",
)

if os.environ.get("REDIS_URL"):
    # Rate limits live in Redis: processes scale freely, on this machine and others.
    workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
    threads = int(os.environ.get("WEB_THREADS", 1))
else:
    # Without Redis the rate limiter's state is in the process; one process with threads
    # keeps every request counted in one place.
    workers = 1
    threads = int(os.environ.get("WEB_THREADS", 8))

accesslog = None  # rheo.middleware writes one line per request, with its request id
timeout = 30
graceful_timeout = 20

# Request limits: gunicorn's own answers are plain HTML, so its limits sit above Rheo's
# (rheo.errors.ApiErrorsMiddleware: a URL over 4096 characters → 414, over 100 headers
# or a header over 8190 bytes → 431, in JSON). Only what is beyond these reaches
# gunicorn's page.
limit_request_line = 8190  # gunicorn's largest bounded value
limit_request_fields = 200
limit_request_field_size = 16380
