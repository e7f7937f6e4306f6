"""Rheo settings: one module, everything from the environment.

With no environment at all Rheo runs on one machine with nothing installed: SQLite in
var/, kombu's filesystem transport as the Celery broker, a local-memory cache.
DATABASE_URL, REDIS_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis.

Variables may also sit in a `.env` file at the checkout's root (RHEO_ENV_FILE names
another one); the real environment overrides it. `make run` writes it on its first start.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from rheo import envfile

# Before anything is read: a variable already in the environment keeps its value.
RHEO_ENV_FILE = envfile.path()
environ.Env.read_env(RHEO_ENV_FILE)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("RHEO_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

# The web port (gunicorn binds it). Under `make run` the other ports and URLs default from
# it, so a second copy on another PORT is a world of its own.
PORT = env.int("PORT", default=8000)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Lets http:// and loopback/private hosts through where the documents demand public HTTPS
# (image and webhook URLs), so everything can be tried on one machine. Link-local and
# cloud metadata addresses stay refused even then.
RHEO_ALLOW_LOCAL_URLS = env.bool("RHEO_ALLOW_LOCAL_URLS", default=False)

# Certificate authorities trusted for outbound HTTPS (a PEM file); certifi's by default.
RHEO_OUTBOUND_CA_BUNDLE = env.str("RHEO_OUTBOUND_CA_BUNDLE", default="")

# Fernet keys for secrets stored encrypted (see rheo/crypto.py); the first one encrypts.
RHEO_ENCRYPTION_KEYS = env.list("RHEO_ENCRYPTION_KEYS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "partners",
    "items",
    "tradera",
    "webhooks",
    # The top layer, above the four before it: the partner-facing pages and APIs.
    "portal",
    "integration",
]

MIDDLEWARE = [
    "rheo.middleware.RequestIdMiddleware",
    "rheo.middleware.UTCForAPIsMiddleware",
    "rheo.errors.ApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "rheo.urls"
WSGI_APPLICATION = "rheo.wsgi.application"
AUTH_USER_MODEL = "partners.User"
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:overview"
# Sessions (dashboard, admin) of a disabled partner's users end at once; see the backend.
AUTHENTICATION_BACKENDS = ["partners.authentication.PartnerUserBackend"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'rheo.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share one file: WAL lets readers run beside the writer, and
    # IMMEDIATE transactions queue writers instead of failing them with "locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Pages show Swedish time (rheo.formatting, the admin's formats in rheo/formats/); the
# database keeps UTC and the APIs answer in UTC (rheo.middleware.UTCForAPIsMiddleware).
TIME_ZONE = "Europe/Stockholm"
FORMAT_MODULE_PATH = ["rheo.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "rheo" / "static"]
# WhiteNoise serves app static files (admin, API docs) straight from the finders, so no
# collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
# Hosted images go through Django's storage API: the local filesystem (MEDIA_ROOT) by
# default, any django-storages backend by configuration (e.g.
# RHEO_STORAGE_BACKEND=storages.backends.s3.S3Storage RHEO_STORAGE_OPTIONS='{"bucket_name":
# "rheo-media"}', with django-storages installed).
STORAGES = {
    "default": {
        "BACKEND": env.str(
            "RHEO_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json("RHEO_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The web process serves MEDIA_ROOT at MEDIA_URL itself: right for one machine; behind a
# CDN, or with a bucket as storage, turn it off.
RHEO_SERVE_MEDIA = env.bool("RHEO_SERVE_MEDIA", default=True)

# --- The Integration API -------------------------------------------------------------

# Request bodies above this are refused with 413 before they are parsed.
RHEO_MAX_BODY_BYTES = env.int("RHEO_MAX_BODY_BYTES", default=1024 * 1024)
# The batch (POST /integration/v1/items/batch): 100 items with 10 image URLs each.
RHEO_MAX_BATCH_BODY_BYTES = env.int("RHEO_MAX_BATCH_BODY_BYTES", default=5 * 1024 * 1024)
# POST /integration/v1/reconciliations takes up to 200,000 external ids: its own limit.
RHEO_RECONCILIATION_MAX_BODY_BYTES = env.int(
    "RHEO_RECONCILIATION_MAX_BODY_BYTES", default=16 * 1024 * 1024
)
# A reconciliation's apply de-lists at most this share of the partner's listed items
# unless forced: a truncated export must not wipe a shop.
RHEO_RECONCILIATION_GUARD_PERCENT = env.float("RHEO_RECONCILIATION_GUARD_PERCENT", default=10.0)

# Per API key, per tier: "<requests>/<seconds>s". DELETE counts in item-sync.
RHEO_RATE_LIMITS = {
    "item-sync": "10/1s",
    "price-update": "20/1s",
    "status-update": "20/1s",
    "read": "30/1s",
    # POST /integration/v1/items/batch: up to 100 items a request.
    "item-batch": "5/1s",
    # POST /api/v1/auth/token, per client address: slows password guessing.
    "auth-token": "10/60s",
    # Orders placed in the marketplace, per client address: an order reserves a part, so
    # one visitor cannot reserve the whole shop.
    "market-order": "5/600s",
    # The Management API (/api/v1/, JWT), per partner; the Analytics API's queries are
    # heavier, so it has a tier of its own.
    "management": "20/1s",
    "analytics": "10/1s",
}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rheo.parsers.JSONBodyParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "rheo.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The Management API's bearer tokens (djangorestframework-simplejwt): HS256, short-lived
# access tokens renewed with a refresh token.
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "UPDATE_LAST_LOGIN": False,
    # Login and refresh: an active user of an active partner (as for sessions).
    "USER_AUTHENTICATION_RULE": "partners.authentication.user_may_sign_in",
}

# Background work held by a worker (an item's image job, a Tradera publish or change): the
# lease covers one step (one download, one Tradera call) and is renewed before the next,
# so work a killed worker held is free again this soon. A Celery nudge not acted on within
# the grace is taken as lost, and the sweeper sends another.
RHEO_LEASE_SECONDS = env.int("RHEO_LEASE_SECONDS", default=60)
RHEO_NUDGE_GRACE_SECONDS = env.int("RHEO_NUDGE_GRACE_SECONDS", default=60)
# How many tokens a partner's backlog of background work holds at once (partners.backlog):
# its share of the worker slots while other partners wait for theirs.
RHEO_BACKLOG_TOKENS = env.int("RHEO_BACKLOG_TOKENS", default=2)

# Image downloads: the whole download's time limit, its size limit, and the most pixels
# an image may decode to (a small file can unpack into gigabytes: a decompression bomb).
RHEO_IMAGE_TIMEOUT_SECONDS = env.float("RHEO_IMAGE_TIMEOUT_SECONDS", default=30.0)
RHEO_IMAGE_MAX_BYTES = env.int("RHEO_IMAGE_MAX_BYTES", default=15 * 1024 * 1024)
RHEO_IMAGE_MAX_PIXELS = env.int("RHEO_IMAGE_MAX_PIXELS", default=50_000_000)

# AI enhancement: an OpenAI-compatible chat-completions endpoint (e.g.
# https://api.openai.com/v1); without one the built-in enhancer writes the texts.
RHEO_AI_URL = env.str("RHEO_AI_URL", default="")
RHEO_AI_MODEL = env.str("RHEO_AI_MODEL", default="gpt-4o-mini")
RHEO_AI_API_KEY = env.str("RHEO_AI_API_KEY", default="")
RHEO_AI_TIMEOUT_SECONDS = env.float("RHEO_AI_TIMEOUT_SECONDS", default=10.0)

# --- Tradera ------------------------------------------------------------------------

# Live keys publish to Tradera's v3 API with Rheo's application; test keys to the sandbox
# (tradera/sandbox, a Procfile process under make run).
TRADERA_API_URL = env.str("TRADERA_API_URL", default="https://api.tradera.com/v3/")
TRADERA_APP_ID = env.int("TRADERA_APP_ID", default=0)
TRADERA_APP_KEY = env.str("TRADERA_APP_KEY", default="")
TRADERA_PUBLIC_KEY = env.str("TRADERA_PUBLIC_KEY", default="")
# A seller token this close to its hard expiry shows as needing attention.
TRADERA_TOKEN_WARN_DAYS = env.int("TRADERA_TOKEN_WARN_DAYS", default=30)
# The sandbox `make run` starts, and the page its consent flow sends the browser back to.
TRADERA_SANDBOX_PORT = env.int("TRADERA_SANDBOX_PORT", default=PORT + 1)
TRADERA_SANDBOX_URL = env.str(
    "TRADERA_SANDBOX_URL", default=f"http://127.0.0.1:{TRADERA_SANDBOX_PORT}/v3/"
)
TRADERA_SANDBOX_APP_ID = env.int("TRADERA_SANDBOX_APP_ID", default=1)
TRADERA_SANDBOX_APP_KEY = env.str("TRADERA_SANDBOX_APP_KEY", default="rheo-sandbox-app-key")
TRADERA_SANDBOX_PUBLIC_KEY = env.str(
    "TRADERA_SANDBOX_PUBLIC_KEY", default="rheo-sandbox-public-key"
)
# The application's calls per 24 hours, all partners together (Tradera's default is 100;
# it raises it on request), and the share of them only the sync may spend.
TRADERA_DAILY_CALLS = env.int("TRADERA_DAILY_CALLS", default=100)
TRADERA_SANDBOX_DAILY_CALLS = env.int("TRADERA_SANDBOX_DAILY_CALLS", default=100_000)
TRADERA_SYNC_RESERVE = env.float("TRADERA_SYNC_RESERVE", default=0.2)
# How often an account's pending publishes are asked about (one GetRequestResults for up
# to 100 of them): the poll interval, at most one poll per account within it.
TRADERA_POLL_SECONDS = env.float("TRADERA_POLL_SECONDS", default=2.0)
# Auction defaults: duration in days, and the shipping option (12: PostNord Paket).
TRADERA_AUCTION_DAYS = env.int("TRADERA_AUCTION_DAYS", default=7)
TRADERA_SHIPPING_OPTION_ID = env.int("TRADERA_SHIPPING_OPTION_ID", default=12)
TRADERA_TIMEOUT_SECONDS = env.float("TRADERA_TIMEOUT_SECONDS", default=30.0)

# --- Webhooks ------------------------------------------------------------------------

# A delivery attempt that has not completed within this many seconds has failed.
RHEO_WEBHOOK_TIMEOUT_SECONDS = env.float("RHEO_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# At most this many attempts to one endpoint at a time, so a slow or dead receiver can
# hold only a few of the webhook workers and never starves the other partners'.
RHEO_WEBHOOK_MAX_IN_FLIGHT = env.int("RHEO_WEBHOOK_MAX_IN_FLIGHT", default=4)

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Rheo <noreply@rheo.se>")

# --- The marketplace -------------------------------------------------------------------

# Where buyers reach Rheo: the links in order emails start with it.
RHEO_PUBLIC_URL = env.str("RHEO_PUBLIC_URL", default=f"http://localhost:{PORT}").rstrip("/")
# Where the sandbox's consent page sends the browser back (the dashboard's tradera-accept).
TRADERA_SANDBOX_ACCEPT_URL = env.str(
    "TRADERA_SANDBOX_ACCEPT_URL", default=f"{RHEO_PUBLIC_URL}/dashboard/integration/tradera/accept"
)

# The demo partner's dashboard password and test key, which `make run` and `make demo`
# print (partners' ensure_demo_partner; kept in .env because the database holds hashes).
RHEO_DEMO_PASSWORD = env.str("RHEO_DEMO_PASSWORD", default="")
RHEO_DEMO_API_KEY = env.str("RHEO_DEMO_API_KEY", default="")
# A pending order not paid within this many days is cancelled and its part listed again.
RHEO_ORDER_PAYMENT_DAYS = env.int("RHEO_ORDER_PAYMENT_DAYS", default=7)
# Price guidance (tradera.guidance): a level's figures are shown only with at least this
# many completed sales from at least this many distinct partners; donor years are grouped
# in bands of this many years; the full refresh runs nightly at this hour (UTC).
RHEO_GUIDANCE_MIN_SALES = env.int("RHEO_GUIDANCE_MIN_SALES", default=10)
RHEO_GUIDANCE_MIN_SELLERS = env.int("RHEO_GUIDANCE_MIN_SELLERS", default=3)
RHEO_GUIDANCE_YEAR_BAND = env.int("RHEO_GUIDANCE_YEAR_BAND", default=5)
RHEO_GUIDANCE_REFRESH_HOUR = env.int("RHEO_GUIDANCE_REFRESH_HOUR", default=2)

SPECTACULAR_SETTINGS = {
    "TITLE": "Rheo Integration API",
    "DESCRIPTION": (
        "Push items from your ERP to Rheo. Rheo hosts the images, lists the item in its "
        "marketplace, publishes Tradera auctions and reports back through signed webhooks. "
        "Every request carries your API key in the `x-api-key` header. Mutating requests "
        "return `202 Accepted` and are processed in the background. Errors always have the "
        'form `{"success": false, "error": {"code", "message", "fields", "requestId"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # A PATCH body as the server reads it (its fields required), not every field optional.
    "COMPONENT_SPLIT_PATCH": False,
    # Swagger lists the Integration API first, then webhooks, management and analytics.
    "SORT_OPERATIONS": False,
    "TAGS": [
        {"name": "Items", "description": "The Integration API: your ERP's items (x-api-key)."},
        {
            "name": "Events",
            "description": "The Integration API: your events feed, the backup of webhooks.",
        },
        {"name": "Management: webhooks", "description": "Webhook settings and deliveries."},
        {
            "name": "Management: events",
            "description": "The events feed, and replays of a window of events.",
        },
        {"name": "Management: auth", "description": "Log in for a bearer token (JWT)."},
        {"name": "Management: API keys", "description": "Create, list and revoke API keys."},
        {
            "name": "Management: relisting",
            "description": "Relist rules: unsold Tradera auctions relisted at a lower price.",
        },
        {
            "name": "Management: grade scale",
            "description": "Your own condition codes and what each means.",
        },
        {"name": "Analytics", "description": "Figures and the subscription (bearer token)."},
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "rheo.schema.postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ModeEnum": "partners.models.ApiKey.Mode",
        "ItemStatusEnum": "items.models.Item.Status",
        "DeliveryStatusEnum": "webhooks.models.Delivery.Status",
        # The event types an endpoint subscribes to (and a replay sends): one enum.
        "EventTypesEnum": "webhooks.models.SUBSCRIBABLE_EVENT_TYPES",
    },
}

# --- Celery ----------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A worker takes from its queues in the order its --queues lists them, not in
        # turn: work that finishes an item (a publish waiting for Tradera) does not queue
        # behind a burst of new work (image jobs). See the Procfile.
        "queue_order_strategy": "priority",
        # A message a worker took but never acknowledged (it was killed) goes back to its
        # queue after this long, checked every 30 s: longer than any task may run (their
        # hard time limits), so a running task's message is not handed out twice.
        "visibility_timeout": 300,
        "unacked_restore_interval": 30,
        "unacked_restore_throttle": 1,
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
    }
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Every process reconnects to a broker that went away, however long it takes.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Sending a nudge waits briefly for a broker that is down (rheo.celery.nudge): the change
# is committed already and the sweeper sends it again.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "items.process_item": {"queue": "images"},
    "items.process_backlog": {"queue": "images"},
    "tradera.publish_listing": {"queue": "tradera"},
    "tradera.publish_backlog": {"queue": "tradera"},
    "tradera.apply_changes": {"queue": "tradera"},
    "tradera.follow_item": {"queue": "tradera"},
    "tradera.sync_account": {"queue": "tradera"},
    "webhooks.deliver": {"queue": "webhooks"},
    "webhooks.run_replay": {"queue": "webhooks"},
    # Everything else (the sweepers, beat's other passes) goes to `default`, which every
    # worker takes first (Procfile): sweeping goes on while any one worker is alive, and
    # never waits behind a backlog of the work it sweeps.
}
# Every task has a time limit, below the broker's visibility timeout: soft (an exception
# the task can clean up after), then hard.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 270
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task running when the broker connection drops finishes its work; should its message
# come again, it finds nothing due (the rows say what is due, not the message).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task unless this is
# set (then only every this many tasks); rheo.celery closes it as Django does between
# requests instead.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
RHEO_SWEEP_SECONDS = env.float("RHEO_SWEEP_SECONDS", default=15.0)


def _every(task: str, seconds: float) -> dict:
    # A pass nobody ran before the next one was due is dropped, not run late in a pile.
    return {"task": task, "schedule": seconds, "options": {"expires": seconds}}


CELERY_BEAT_SCHEDULE = {
    # The database is the queue; a Celery message is only a nudge. The sweepers nudge
    # again the work that is due and whose nudge may have been lost.
    "sweep-webhook-deliveries": _every("webhooks.sweep_deliveries", RHEO_SWEEP_SECONDS),
    # Event replays whose nudge was lost or whose worker died.
    "sweep-event-replays": _every("webhooks.sweep_replays", RHEO_SWEEP_SECONDS),
    # Items whose images or texts are due.
    "sweep-items": _every("items.sweep_items", RHEO_SWEEP_SECONDS),
    # Reconciliation applies whose nudge was lost or whose worker died.
    "sweep-reconciliations": _every("items.sweep_reconciliations", RHEO_SWEEP_SECONDS),
    # Stock imports (the dashboard's) whose nudge was lost or whose worker died.
    "sweep-stock-imports": _every("items.sweep_stock_imports", RHEO_SWEEP_SECONDS),
    # Items whose change Tradera has to follow, publishes, and changes to running auctions.
    "sweep-tradera-listings": _every("tradera.sweep_listings", RHEO_SWEEP_SECONDS),
    # What changed on Tradera: sales and unsold ends, every 15 minutes.
    "sync-tradera": _every(
        "tradera.sync_all_accounts", env.float("TRADERA_SYNC_MINUTES", default=15.0) * 60
    ),
    # Marketplace orders never paid release their parts.
    "expire-unpaid-orders": _every("items.expire_unpaid_orders", 3600.0),
    # Subscriptions whose period is over: renewed, or ended when cancelled at period end.
    "roll-subscription-periods": _every("partners.roll_subscription_periods", 60.0),
    # Price guidance: sales' updates whose nudge was lost, and the nightly full refresh.
    "sweep-price-guidance": _every("tradera.sweep_price_guidance", RHEO_SWEEP_SECONDS),
    "refresh-price-guidance": {
        "task": "tradera.refresh_price_guidance",
        "schedule": crontab(hour=RHEO_GUIDANCE_REFRESH_HOUR, minute=0),
        "options": {"expires": 3600.0},
    },
}

# --- Logging ---------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "rheo.logs.UTCFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Rheo writes its own request line (with the request id); Django's would repeat it.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        # The filesystem broker has no host name, and kombu says so on every connection.
        "kombu.connection": {"level": "ERROR"},
    },
}
