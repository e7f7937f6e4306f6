"""Settings come from the environment alone; checked in fresh interpreters."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "broker_transport": getattr(settings, "CELERY_BROKER_TRANSPORT", None),
    "debug": settings.DEBUG,
    "allow_local": settings.RHEO_ALLOW_LOCAL_URLS,
}))
"""


def settings_with(env: dict, tmp_path) -> subprocess.CompletedProcess:
    clean = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "rheo.settings",
        "RHEO_VAR_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_with_no_environment_rheo_runs_on_sqlite_memory_and_a_filesystem_broker(tmp_path):
    result = settings_with({"DEBUG": "1"}, tmp_path)

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str(tmp_path / "rheo.sqlite3")
    assert found["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert found["broker"] == "filesystem://"
    assert found["allow_local"] is False


def test_database_and_redis_urls_switch_to_postgresql_and_redis(tmp_path):
    result = settings_with(
        {
            "SECRET_KEY": "s",
            "DATABASE_URL": "postgres://rheo@db.internal:5432/rheo",
            "REDIS_URL": "redis://cache.internal:6379/0",
        },
        tmp_path,
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["engine"] == "django.db.backends.postgresql"
    assert found["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert found["broker"] == "redis://cache.internal:6379/0"
    assert found["debug"] is False


def test_a_separate_broker_url_wins(tmp_path):
    result = settings_with(
        {"SECRET_KEY": "s", "REDIS_URL": "redis://a:6379/0", "CELERY_BROKER_URL": "redis://b/1"},
        tmp_path,
    )
    assert json.loads(result.stdout)["broker"] == "redis://b/1"


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = settings_with({}, tmp_path)

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("redis://cache.internal:6379/1", "rheo.broker:RedisTransport"),
        ("rediss://cache.internal:6380/1", "rheo.broker:RedisTransport"),
        ("filesystem://", None),
        ("memory://", None),
    ],
)
def test_a_redis_broker_uses_rheos_redis_transport(tmp_path, url, transport):
    result = settings_with({"SECRET_KEY": "s", "CELERY_BROKER_URL": url}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["broker_transport"] == transport


def test_celery_runs_on_every_celery_setting_of_django():
    from django.conf import settings

    from rheo.celery import app

    names = [name for name in dir(settings) if name.startswith("CELERY_")]
    assert "CELERY_TASK_ROUTES" in names and "CELERY_BEAT_SCHEDULE" in names
    for name in names:
        assert app.conf[name.removeprefix("CELERY_").lower()] == getattr(settings, name), name
