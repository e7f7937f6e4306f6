from django.core.management.base import BaseCommand, CommandError

from partners import services
from partners.models import User


class Command(BaseCommand):
    help = "Create an API key for the partner of the user with EMAIL; the key is the last line."

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, metavar="EMAIL")
        parser.add_argument("--name", default="Command line")
        parser.add_argument("--test", action="store_true", help="A rheo_test_ key (sandbox).")

    def handle(self, *args, partner, name, test, **options):
        user = User.objects.select_related("partner").filter(email__iexact=partner).first()
        if user is None or user.partner is None:
            raise CommandError(f"No partner has a user with the email {partner}.")
        issued = services.create_api_key(
            partner=user.partner, name=name, mode="test" if test else "live"
        )
        self.stdout.write(
            f"Created {issued.api_key.mode} key {issued.api_key.name!r} for {user.partner.name}. "
            "It is shown once; store it now:"
        )
        self.stdout.write(issued.secret)
