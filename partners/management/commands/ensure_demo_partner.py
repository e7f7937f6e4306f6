"""The demo partner `make run` and `make demo` print a login and a test key for.

The database keeps only hashes of passwords and keys, so the demo user's password and the
demo test key live in the .env file (RHEO_DEMO_PASSWORD, RHEO_DEMO_API_KEY), written on
the first start. Every later start makes sure they still work and prints them again."""

import secrets
import shlex

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from partners import keys, services
from partners.models import ApiKey, User
from rheo import envfile
from rheo.errors import ServiceError

DEMO_EMAIL = "demo@rheo.local"
DEMO_PARTNER = "Demo Dismantler"


class Command(BaseCommand):
    help = (
        "Create the demo partner, its password and its test key when missing (kept in "
        ".env), and print how to log in and the Quick Start's shell variables."
    )

    def handle(self, *args, **options):
        password, key = settings.RHEO_DEMO_PASSWORD, settings.RHEO_DEMO_API_KEY
        generated = {}
        if not password:
            password = generated["RHEO_DEMO_PASSWORD"] = secrets.token_urlsafe(12)
        if keys.mode_of(key) != "test":
            key = generated["RHEO_DEMO_API_KEY"] = keys.generate("test")

        user = User.objects.select_related("partner").filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            _, user = services.create_partner(
                name=DEMO_PARTNER, email=DEMO_EMAIL, password=password
            )
        if user.partner is None:
            raise CommandError(f"{DEMO_EMAIL} is a user of no partner; it cannot be the demo.")

        notes = []
        api_key = ApiKey.objects.filter(digest=keys.digest(key)).first()
        if api_key is not None and (api_key.revoked_at or api_key.partner_id != user.partner_id):
            # A revoked key stays revoked: the demo gets a new one.
            notes.append("The demo key in .env was revoked; this is a new one.")
            key = generated["RHEO_DEMO_API_KEY"] = keys.generate("test")
            api_key = None
        if api_key is None:
            try:
                services.create_api_key(
                    partner=user.partner, name="Demo sandbox key", mode="test", secret=key
                )
            except ServiceError as error:
                notes.append(f"No demo test key: {error.message}")
                key = ""
        if generated:
            envfile.set_values(
                settings.RHEO_ENV_FILE,
                generated,
                comment="The demo partner's password and test key (make run, make demo).",
            )

        if not user.check_password(password):
            notes.append(
                f"The password of {DEMO_EMAIL} was changed, so it is not printed. To set it "
                f"again: .venv/bin/python manage.py changepassword {DEMO_EMAIL}, and put it "
                "in .env as RHEO_DEMO_PASSWORD."
            )
            password = ""
        self.stdout.write(block(password=password, key=key, notes=notes))


def block(*, password: str, key: str, notes: list[str]) -> str:
    """What to open, how to log in, and the Quick Start's shell variables (README.md uses
    the export line's names)."""
    base = f"http://localhost:{settings.PORT}"
    variables = {"RHEO": base, "RHEO_KEY": key, "RHEO_EMAIL": DEMO_EMAIL}
    if password:
        variables["RHEO_PASSWORD"] = password
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in variables.items() if value)
    lines = [
        "",
        f"Rheo: {base}  (dashboard /dashboard/, API reference /api/docs/)",
        f"Tradera sandbox: http://localhost:{settings.TRADERA_SANDBOX_PORT}",
        f"Dashboard login: {DEMO_EMAIL} / {password or '(your own password)'}",
        *notes,
        "For the Quick Start in README.md, paste this into another shell:",
        f"  export {exports}",
        "(make demo prints these lines again.)",
        "",
    ]
    return "\n".join(lines)
