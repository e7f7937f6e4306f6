"""Schemathesis against the OpenAPI schema (/api/schema/): every Integration and
Management operation, authenticated, with generated valid and invalid input. No answer
may be a 5xx or contradict the schema (status code, content type, body, headers).

Bounded and deterministic: a fixed number of examples per operation, derandomized."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from rheo.middleware import ChunkedBodies
from tests.conftest import integration, login, make_partner

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 10
BATCH_PATH = "/integration/v1/items/batch"


# The WSGI application as gunicorn runs it, called in this thread.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", ChunkedBodies(get_wsgi_application())
)
# Unknown query parameters are ignored by design (as unknown body keys are), so none are
# generated as "invalid" input.
schema.config.generation.update(allow_extra_parameters=False)


@pytest.fixture
def credentials(settings):
    """A test key and a bearer token of one partner, then the app ready to be called."""
    partner = make_partner("Fuzz AB", "fuzz@rheo.example")
    key = integration(partner, "test").key
    bearer = login("fuzz@rheo.example")._credentials["HTTP_AUTHORIZATION"]
    # Generated requests come far faster than a partner's; the limits have tests of their own.
    settings.RHEO_RATE_LIMITS = {tier: "1000000/60s" for tier in settings.RHEO_RATE_LIMITS}
    # The app uses the test's own database connection and transaction: as in Django's
    # test client, a request's end must not close that connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"x-api-key": key, "Authorization": bearer}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says(case, credentials):
    # Not checked: that every schema-valid request is accepted. Whether one is depends on
    # what a schema cannot state: an image host's address, a webhook host's DNS answer,
    # the plan's limits, NUL characters (every other rule, the other way round, is).
    excluded = [positive_data_acceptance]
    if case.operation.path == BATCH_PATH:
        # The batch answers 200 for a schema-invalid entry by design: each entry is
        # validated on its own and reported invalid in its result (tests/integration has
        # those cases, and the 400s of a malformed batch); its answers are still checked.
        excluded.append(negative_data_rejection)
    case.call_and_validate(headers=credentials, excluded_checks=excluded)
