"""Settings come from the environment and a .env file; checked in fresh interpreters."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
    "broker_options": getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    "debug": settings.DEBUG,
    "allow_local": settings.RHEO_ALLOW_LOCAL_URLS,
    "secret_key": settings.SECRET_KEY,
    "port": settings.PORT,
    "sandbox_port": settings.TRADERA_SANDBOX_PORT,
    "sandbox_url": settings.TRADERA_SANDBOX_URL,
    "public_url": settings.RHEO_PUBLIC_URL,
    "accept_url": settings.TRADERA_SANDBOX_ACCEPT_URL,
}))
"""


def settings_with(env: dict, tmp_path) -> subprocess.CompletedProcess:
    clean = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "rheo.settings",
        "RHEO_VAR_DIR": str(tmp_path),
        # A developer's own .env (make run writes one) is no part of these tests.
        "RHEO_ENV_FILE": os.devnull,
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


def test_a_message_a_killed_worker_held_comes_back_within_minutes_never_while_it_runs(
    tmp_path,
):
    """On Redis, a message taken by a worker that dies unacknowledged is handed out again
    after the visibility timeout: soon (minutes, not kombu's default hour), and not while
    a task could still be running it, nor while a countdown holds it."""
    from django.conf import settings

    from rheo import celery

    result = settings_with({"SECRET_KEY": "s", "CELERY_BROKER_URL": "redis://r:6379/1"}, tmp_path)
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout)["broker_options"]
    visibility = options["visibility_timeout"]

    celery.app.loader.import_default_modules()
    ours = [t for name, t in celery.app.tasks.items() if not name.startswith("celery.")]
    assert len(ours) >= 8
    longest = max(t.time_limit or settings.CELERY_TASK_TIME_LIMIT for t in ours)
    assert longest < visibility <= 600
    assert visibility > celery.LONGEST_COUNTDOWN
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 60


def test_celery_runs_on_every_celery_setting_of_django():
    from django.conf import settings

    from rheo.celery import app

    names = [name for name in dir(settings) if name.startswith("CELERY_")]
    assert "CELERY_TASK_ROUTES" in names and "CELERY_BEAT_SCHEDULE" in names
    for name in names:
        assert app.conf[name.removeprefix("CELERY_").lower()] == getattr(settings, name), name


def test_a_dot_env_file_configures_what_the_environment_leaves_unset(tmp_path):
    env_file = tmp_path / "dev.env"
    env_file.write_text("DEBUG=1\nSECRET_KEY=from-the-file\nRHEO_ALLOW_LOCAL_URLS=1\nPORT=9100\n")

    found = json.loads(settings_with({"RHEO_ENV_FILE": str(env_file)}, tmp_path).stdout)
    assert (found["debug"], found["secret_key"], found["allow_local"]) == (
        True,
        "from-the-file",
        True,
    )
    assert found["port"] == 9100

    overridden = settings_with(
        {"RHEO_ENV_FILE": str(env_file), "DEBUG": "0", "PORT": "9300"}, tmp_path
    )
    found = json.loads(overridden.stdout)
    assert (found["debug"], found["secret_key"], found["port"]) == (False, "from-the-file", 9300)


def test_dot_env_is_read_at_the_checkouts_root_and_git_ignored():
    from rheo import envfile

    assert envfile.BASE_DIR == ROOT
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_sandbox_and_the_public_urls_follow_port(tmp_path):
    found = json.loads(settings_with({"DEBUG": "1", "PORT": "9000"}, tmp_path).stdout)

    assert found["sandbox_port"] == 9001
    assert found["sandbox_url"] == "http://127.0.0.1:9001/v3/"
    assert found["public_url"] == "http://localhost:9000"
    assert found["accept_url"] == "http://localhost:9000/dashboard/integration/tradera/accept"


def test_the_sandbox_port_and_each_url_can_be_set_on_their_own(tmp_path):
    given = {
        "DEBUG": "1",
        "PORT": "9000",
        "TRADERA_SANDBOX_PORT": "9500",
        "RHEO_PUBLIC_URL": "https://rheo.example/",
    }
    found = json.loads(settings_with(given, tmp_path).stdout)

    assert found["sandbox_url"] == "http://127.0.0.1:9500/v3/"
    assert found["public_url"] == "https://rheo.example"
    assert found["accept_url"] == "https://rheo.example/dashboard/integration/tradera/accept"

    found = json.loads(
        settings_with({**given, "TRADERA_SANDBOX_URL": "http://sandbox:1/v3/"}, tmp_path).stdout
    )
    assert found["sandbox_url"] == "http://sandbox:1/v3/"


def test_the_sandbox_accept_url_is_the_dashboards_tradera_accept_page():
    from django.conf import settings
    from django.urls import reverse

    assert settings.TRADERA_SANDBOX_ACCEPT_URL.endswith(reverse("dashboard:tradera-accept"))


def test_each_copy_has_its_own_gunicorn_control_socket(tmp_path):
    probe = "import json, rheo.gunicorn as g; print(json.dumps(g.control_socket))"
    sockets = [
        subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], "RHEO_VAR_DIR": str(tmp_path / copy)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for copy in ("one", "two")
    ]
    assert [json.loads(s) for s in sockets] == [
        str(tmp_path / "one" / "gunicorn.ctl"),
        str(tmp_path / "two" / "gunicorn.ctl"),
    ]
