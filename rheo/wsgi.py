import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")

application = get_wsgi_application()

from rheo.middleware import ChunkedBodies  # noqa: E402 - after Django is set up

application = ChunkedBodies(application)
