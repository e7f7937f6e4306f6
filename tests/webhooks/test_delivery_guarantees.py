"""What must hold when workers die, race or wait on a dead receiver, and over real TLS."""

import os
import signal
import ssl
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from items.models import Item
from tests.conftest import needs_postgres
from tests.webhooks.conftest import Receiver, Reply
from webhooks import services
from webhooks.models import Delivery

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def configure(partner, url):
    return services.configure_endpoint(
        partner=partner, livemode=True, url=url, enabled=True, event_types=["item.sold"]
    )


def sold_item(api, external_id="ERP-1"):
    assert api.put(external_id).status_code == 202
    return Item.objects.get(external_id=external_id)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_loses_nothing(
    partner_a, api_a, receiver, broker_messages, worker
):
    configure(partner_a, receiver.url())
    item = sold_item(api_a)
    receiver.reply(Reply(hang=True))  # the first POST arrives and the worker dies waiting
    event = services.emit(partner_a, "item.sold", item, sale_price=950)
    broker_messages("webhooks")  # this test's worker process takes the delivery instead
    delivery = event.deliveries.get()

    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from webhooks import tasks; "
            f"tasks.deliver('{delivery.pk}')",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "rheo.settings_test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        },
    )
    try:
        assert receiver.arrived.acquire(timeout=30), "the worker never sent the delivery"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.locked_until > timezone.now()  # the dead worker's lease
    assert worker.sweep_deliveries() == 0  # not while the lease lasts

    later = timezone.now() + services.LEASE + services.NUDGE_GRACE + timedelta(seconds=1)
    with time_machine.travel(later):
        assert worker.sweep_deliveries() == 1
        worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == event.id


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_racing_workers_deliver_an_event_once(partner_a, api_a, receiver, broker_messages):
    configure(partner_a, receiver.url())
    receiver.reply(Reply(delay=0.3))
    event = services.emit(partner_a, "item.sold", sold_item(api_a), sale_price=1)
    delivery_id = str(event.deliveries.get().pk)
    start = threading.Barrier(6)

    def race():
        start.wait()
        services.attempt_delivery(delivery_id=delivery_id)
        connection.close()

    threads = [threading.Thread(target=race) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(receiver.received) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


@needs_postgres
@pytest.mark.django_db(transaction=True)
@override_settings(RHEO_WEBHOOK_MAX_IN_FLIGHT=2, RHEO_WEBHOOK_TIMEOUT_SECONDS=5)
def test_a_dead_endpoint_holds_at_most_its_share_of_workers(
    partner_a, api_a, receiver, broker_messages
):
    configure(partner_a, receiver.url())
    receiver.reply(*[Reply(hang=True)] * 6)
    item = sold_item(api_a)
    ids = [
        str(services.emit(partner_a, "item.sold", item, sale_price=n).deliveries.get().pk)
        for n in range(6)
    ]

    def attempt(delivery_id):
        services.attempt_delivery(delivery_id=delivery_id)
        connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in ids]
    for t in threads[:2]:
        t.start()
    assert receiver.arrived.acquire(timeout=10) and receiver.arrived.acquire(timeout=10)
    for t in threads[2:]:
        t.start()
        t.join(timeout=10)
        assert not t.is_alive(), "a worker waited on an endpoint that had its share"
    parked = Delivery.objects.filter(pk__in=ids[2:])
    assert all(d.attempts == 0 and d.status == "pending" for d in parked)
    assert all(d.locked_until is None and d.parked for d in parked)
    assert len(receiver.received) == 2
    broker_messages("webhooks")  # nothing waits on a timer for them

    receiver.release.set()  # the two hanging requests end without an answer
    for t in threads[:2]:
        t.join(timeout=10)
    held = Delivery.objects.filter(pk__in=ids[:2])
    assert all(d.attempts == 1 and d.status == "pending" for d in held)
    # Each ended attempt scheduled its own retry and woke one parked delivery, a
    # different one each time.
    nudged = [args[0] for _task, args in broker_messages("webhooks")]
    woken = [i for i in nudged if i in ids[2:]]
    assert len(woken) == len(set(woken)) == 2
    assert sorted(i for i in nudged if i not in woken) == sorted(ids[:2])


# --- TLS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A private CA and a certificate for `localhost` it signed."""
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)

    def build(subject, issuer, public_key, signing_key, *, ca, names=()):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rheo test CA")])
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    leaf = build(leaf_name, ca_name, leaf_key.public_key(), ca_key, ca=False, names=["localhost"])

    ca_file, cert_file, key_file = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def tls_receiver(certificates):
    _ca, cert, key = certificates
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    r = Receiver(ssl_context=context)
    yield r
    r.close()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("host", "trusted", "outcome"),
    [
        ("localhost", True, "succeeded"),
        ("localhost", False, "pending"),  # a certificate no public CA signed
        ("127.0.0.1", True, "pending"),  # the certificate does not name the address
    ],
)
def test_https_receivers_are_verified_while_connecting_to_the_checked_address(
    partner_a, api_a, tls_receiver, certificates, emit, worker, host, trusted, outcome
):
    ca_file = str(certificates[0]) if trusted else ""
    with override_settings(RHEO_OUTBOUND_CA_BUNDLE=ca_file):
        configure(partner_a, tls_receiver.url(host=host))
        emit(partner_a, "item.sold", sold_item(api_a), sale_price=5)
        worker()
    delivery = Delivery.objects.get()
    assert delivery.status == outcome, delivery.last_error
    if outcome == "pending":
        assert delivery.last_error.startswith("TLS failed")
        assert tls_receiver.received == []
    else:
        assert (
            tls_receiver.received[0].headers["Host"]
            == f"localhost:{tls_receiver.server.server_port}"
        )
