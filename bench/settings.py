"""The project's settings, plus the benchmark's reference views (bench/urls.py).

Used only by bench/put_throughput.py (DJANGO_SETTINGS_MODULE=bench.settings); the
environment it sets decides everything else, exactly as for the real app."""

from rheo.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
