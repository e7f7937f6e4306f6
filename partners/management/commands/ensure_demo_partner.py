import os
import secrets

from django.core.management.base import BaseCommand

from partners import services
from partners.models import Partner

DEMO_EMAIL = "demo@rheo.local"

QUICK_START_CURL = """\
curl -i -X PUT http://localhost:{port}/integration/v1/items/ERP_PART_12345 \\
  -H 'x-api-key: {key}' \\
  -H 'Content-Type: application/json' \\
  -d '{{"title": "Volvo XC90 bromsok fram vänster — 2018",
       "description": "Testad och fungerande. Skick B.",
       "price": 950, "shippingCost": 149, "weightKg": 3.2,
       "imageUrls": ["http://127.0.0.1:{port}/static/samples/caliper-1.jpg",
                     "http://127.0.0.1:{port}/static/samples/caliper-2.jpg"],
       "domain": {{"domain": "automotive_part", "oemCode": "31400452",
                  "manufacturer": "Volvo", "compatibleModels": ["XC90"],
                  "donorVehicleYear": 2018, "conditionGrade": "B"}},
       "autoPublishTradera": true}}'

curl -s http://localhost:{port}/integration/v1/items/ERP_PART_12345 -H 'x-api-key: {key}'
"""


class Command(BaseCommand):
    help = "On a fresh install (no partner yet), create a demo partner and a sandbox API key."

    def handle(self, *args, **options):
        if Partner.objects.exists():
            self.stdout.write(
                "Partners exist; no demo partner created. A new key: "
                "python manage.py create_api_key --partner EMAIL --test"
            )
            return
        password = secrets.token_urlsafe(12)
        partner, _ = services.create_partner(
            name="Demo Dismantler", email=DEMO_EMAIL, password=password
        )
        issued = services.create_api_key(partner=partner, name="Demo sandbox key", mode="test")
        port = os.environ.get("PORT", "8000")
        self.stdout.write(
            f"\nCreated the demo partner {partner.name}: user {DEMO_EMAIL}, password {password}\n"
            f"Partner dashboard: http://localhost:{port}/dashboard/ (its data: the switch "
            "at the top shows test mode)\n"
            f"Sandbox API key (shown once): {issued.secret}\n\n"
            "Quick Start, step 2 (push an item; its images are samples this server hosts) and "
            "step 3 (check its status; active within seconds):\n\n"
            + QUICK_START_CURL.format(port=port, key=issued.secret)
        )
