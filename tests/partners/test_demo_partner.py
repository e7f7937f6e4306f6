"""manage.py ensure_demo_partner (make run, make demo): the demo partner's login and test
key, kept in .env because the database keeps only hashes, printed on every start."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from partners import keys, services
from partners.models import ApiKey, User
from tests.conftest import Integration
from tests.system.conftest import parse_exports


@pytest.fixture
def env_file(settings, tmp_path):
    settings.RHEO_ENV_FILE = tmp_path / ".env"
    settings.RHEO_DEMO_PASSWORD = settings.RHEO_DEMO_API_KEY = ""
    settings.PORT, settings.TRADERA_SANDBOX_PORT = 9000, 9001
    settings.RHEO_ENV_FILE.write_text("DEBUG=1\nPORT=9000\n")
    return settings.RHEO_ENV_FILE


def demo(capsys) -> tuple[str, dict[str, str]]:
    call_command("ensure_demo_partner")
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.strip().startswith("export ")]
    return out, parse_exports(line)


def saved(env_file) -> dict[str, str]:
    lines = env_file.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def next_start(settings, env_file) -> None:
    """The settings the next start reads from the .env the last one wrote."""
    settings.RHEO_DEMO_PASSWORD = saved(env_file)["RHEO_DEMO_PASSWORD"]
    settings.RHEO_DEMO_API_KEY = saved(env_file)["RHEO_DEMO_API_KEY"]


def works(key: str) -> bool:
    answer = Integration(key, APIClient()).get("NO-SUCH-ITEM")
    return answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_the_first_start_creates_the_demo_and_keeps_its_login_and_key_in_env(db, env_file, capsys):
    out, exports = demo(capsys)

    password, key = exports["RHEO_PASSWORD"], exports["RHEO_KEY"]
    assert exports == {
        "RHEO": "http://localhost:9000",
        "RHEO_KEY": key,
        "RHEO_EMAIL": "demo@rheo.local",
        "RHEO_PASSWORD": password,
    }
    assert "Rheo: http://localhost:9000  (dashboard /dashboard/, API reference /api/docs/)" in out
    assert "Tradera sandbox: http://localhost:9001" in out
    assert f"Dashboard login: demo@rheo.local / {password}" in out
    assert saved(env_file) == {
        "DEBUG": "1",
        "PORT": "9000",
        "RHEO_DEMO_PASSWORD": password,
        "RHEO_DEMO_API_KEY": key,
    }
    assert User.objects.get(email="demo@rheo.local").check_password(password)
    assert keys.mode_of(key) == "test" and works(key)


def test_every_later_start_prints_the_same_login_and_key(db, env_file, capsys, settings):
    _, first = demo(capsys)
    next_start(settings, env_file)

    _, again = demo(capsys)

    assert again == first
    assert ApiKey.objects.count() == 1


def test_a_database_made_anew_gets_the_key_and_password_env_keeps(db, env_file, capsys, settings):
    settings.RHEO_DEMO_PASSWORD = "kept-in-env-1234"
    settings.RHEO_DEMO_API_KEY = kept = keys.generate("test")

    _, exports = demo(capsys)

    assert (exports["RHEO_KEY"], exports["RHEO_PASSWORD"]) == (kept, "kept-in-env-1234")
    assert works(kept)
    assert "RHEO_DEMO_API_KEY" not in env_file.read_text()


def test_a_revoked_demo_key_stays_revoked_and_a_new_one_takes_its_place_in_env(
    db, env_file, capsys, settings
):
    _, first = demo(capsys)
    services.revoke_api_key(api_key=ApiKey.objects.get())
    next_start(settings, env_file)

    out, again = demo(capsys)

    assert "The demo key in .env was revoked; this is a new one." in out
    assert again["RHEO_KEY"] != first["RHEO_KEY"]
    assert works(again["RHEO_KEY"]) and not works(first["RHEO_KEY"])
    assert saved(env_file)["RHEO_DEMO_API_KEY"] == again["RHEO_KEY"]
    assert env_file.read_text().count("RHEO_DEMO_API_KEY=") == 1


def test_a_password_changed_since_is_not_printed_but_said_to_be_changed(
    db, env_file, capsys, settings
):
    _, first = demo(capsys)
    user = User.objects.get(email="demo@rheo.local")
    user.set_password("my-own-password-99")
    user.save()
    next_start(settings, env_file)

    out, again = demo(capsys)

    assert first["RHEO_PASSWORD"] not in out
    assert "The password of demo@rheo.local was changed, so it is not printed." in out
    assert "Dashboard login: demo@rheo.local / (your own password)" in out
    assert "RHEO_PASSWORD" not in again
    assert again["RHEO_KEY"] == first["RHEO_KEY"]
