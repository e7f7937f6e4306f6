"""The staff admin tests drive every app: the Tradera sandbox and a webhook receiver of
the apps' own test folders are fixtures here too."""

from tests.tradera.conftest import (  # noqa: F401 - fixtures
    photo,
    rheo_on_the_sandbox,
    sandbox,
    sandbox_server,
)
from tests.webhooks.conftest import receiver  # noqa: F401 - a fixture
