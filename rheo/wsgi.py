import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")

from rheo.middleware import ChunkedBodies  # noqa: E402 - after the settings module is named

application = ChunkedBodies(get_wsgi_application())
