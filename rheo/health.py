"""/healthz: the process answers. /readyz: its database, cache and broker answer too."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from rheo.celery import app as celery_app


def healthz(request):
    return JsonResponse({"status": "ok"})


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache():
    cache.set("readyz", "1", 5)
    if cache.get("readyz") != "1":
        raise RuntimeError("value written was not read back")


def _broker():
    with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


def readyz(request):
    results, failing = {}, []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            results[name] = f"error: {exc.__class__.__name__}: {exc}"
            failing.append(name)
        else:
            results[name] = "ok"
    body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": results}
    return JsonResponse(body, status=503 if failing else 200)
