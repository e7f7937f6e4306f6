from django.core.management.base import BaseCommand, CommandError

from partners import services
from rheo.errors import ServiceError


class Command(BaseCommand):
    help = "Create a partner and its first dashboard user."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="Without it the user has no usable password.")

    def handle(self, *args, name, email, password, **options):
        try:
            partner, user = services.create_partner(name=name, email=email, password=password)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created partner {partner.name} ({partner.id}) with user {user.email}.")
