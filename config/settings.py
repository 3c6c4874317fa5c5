"""Allot settings: one module, every deployment-specific value from the environment (django-environ)."""

import secrets
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# The fallback key only serves local development; `check --deploy` flags it, production sets SECRET_KEY.
SECRET_KEY = env("SECRET_KEY", default="django-insecure-allot-local-development-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "config.apps.AllotAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "anymail",
    "django_tasks",
    "django_tasks_db",
    "core",
    "resources",
    "events",
    "bookings",
    "notifications",
    "webhooks",
    "public",
    "feeds",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "resources.middleware.ConfigReadScopeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Idempotency-Key on the API's POSTs (docs/architecture.md#idempotent-retries): after the session's user is
    # known, so a session caller is found as its view will find it.
    "core.api.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.csp.AllotCSPMiddleware",
]

# Content-Security-Policy (django-csp) on every HTML page: the public pages (templates/public/), the
# admin, Swagger UI and the browsable API load only our own scripts and stylesheets, with no inline code,
# so nothing injected into a page could run. config.csp.AllotCSPMiddleware adds the hashes of the few
# inline <style> blocks that Django's admin and Swagger UI ship (styles only; no inline script anywhere).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- database -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock at BEGIN, so two writers serialize instead of one failing
    # with "database is locked" when it upgrades a read lock; `timeout` is how long a writer waits.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 30})
    # A file (not :memory:) so the threaded race tests share one database.
    DATABASES["default"]["TEST"] = {"NAME": env("SQLITE_TEST_NAME", default=str(BASE_DIR / "test_db.sqlite3"))}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
# DATABASE_POOLER=pgbouncer: DATABASE_URL points at PgBouncer in transaction pooling, where consecutive
# transactions of one Django connection may run on different server sessions (docs/DEPLOYMENT.md). So no
# state may outlive a transaction: no server-side cursors (QuerySet.iterator() would DECLARE a cursor in
# one session and FETCH in another), no prepared statements (Django's psycopg 3 default, prepare_threshold
# None, and client-side binding: kept explicit here so nobody turns them on), no session advisory locks
# (the code takes none). A kept connection is only a socket to PgBouncer, so CONN_MAX_AGE stays cheap;
# the health check replaces one PgBouncer closed (server restart, client_idle_timeout) before its use.
DATABASE_POOLER = env("DATABASE_POOLER", default="")
if DATABASE_POOLER and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_POOLER is for PostgreSQL behind PgBouncer: DATABASE_URL=postgres://...")
if DATABASE_POOLER == "pgbouncer":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).update({"prepare_threshold": None, "server_side_binding": False})
elif DATABASE_POOLER:
    raise ImproperlyConfigured(f"DATABASE_POOLER={DATABASE_POOLER!r}: the one pooler Allot knows is 'pgbouncer'")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- i18n / time ----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# The languages emails may be written in: the choices of staff's email templates
# (docs/architecture.md#email-templates). Emails are written in LANGUAGE_CODE's language for now.
LANGUAGES = [("en", "English")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static ---------------------------------------------------------------------------------------
# WhiteNoise warns when collectstatic has not run (development, tests); production runs it.
warnings.filterwarnings("ignore", message="No directory at")
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env("STATICFILES_BACKEND", default="whitenoise.storage.CompressedManifestStaticFilesStorage")
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- email (django-anymail) -----------------------------------------------------------------------
# EMAIL_BACKEND picks the provider, e.g. anymail.backends.postmark.EmailBackend; ANYMAIL holds its
# credentials as JSON, e.g. ANYMAIL='{"POSTMARK_SERVER_TOKEN": "..."}'.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
ANYMAIL = env.json("ANYMAIL", default={})
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Allot <bookings@allot.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- background work (django-tasks) ---------------------------------------------------------------
# Immediate by default: the send task runs right after the transaction that wrote the Notification
# commits. Production: TASKS_BACKEND=django_tasks_db.DatabaseBackend and `manage.py db_worker`.
TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND", default="django_tasks.backends.immediate.ImmediateBackend"),
        "QUEUES": ["default"],
    }
}

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["resources.api.permissions.IsMember"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "public_submit": env("PUBLIC_SUBMIT_RATE", default="30/minute"),
        # Wrong secret-link tokens (/b/<token>/..., /feeds/<token>.ics) per client address: core.throttles.
        "token_guess": env("TOKEN_GUESS_RATE", default="20/minute"),
    },
    # How many proxies put X-Forwarded-For in front of us; None trusts REMOTE_ADDR only.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None) if env("NUM_PROXIES", default="") else None,
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Allot API",
    "DESCRIPTION": "Booking requests, approvals and the calendar of an organization's spaces and resources.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Operation ids without the version ("resources_retrieve", not "v1_resources_retrieve"): generated clients
    # name their functions after them.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Request bodies refuse unknown fields (core.api.strict): their objects say additionalProperties: false.
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "bookings.models.BookingStatus.choices",
        "EventStatusEnum": "events.models.EventStatus.choices",
        "EventProcedureEnum": [(0, "CANCEL"), (1, "DELETE")],
        "RateUnitEnum": "resources.models.RateUnit.choices",
        "ProductUnitEnum": "resources.models.ProductUnit.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # Idempotency-Key and its answers on every POST (docs/architecture.md#idempotent-retries).
        "core.api.idempotency_schema.document_idempotency",
        # additionalProperties: false on write bodies (docs/architecture.md#strict-input).
        "core.api.schema.strict_request_bodies",
        "core.api.schema.declare_tags",
        # 414 where a query string can grow past what the HTTP server reads (config/gunicorn.py).
        "core.api.schema.document_uri_too_long",
    ],
}
REST_KNOX = {
    # Personal integration tokens: no expiry unless one is given when the token is created.
    "TOKEN_TTL": None,
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_PREFIX": "allot_",
}

# --- security -------------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# LOGGING: in the hardening section below (it masks secret tokens in log records).

# --- Allot ----------------------------------------------------------------------------------------
# Back-off between attempts to send one email (seconds); after the last one the row is FAILED.
NOTIFICATION_RETRY_DELAYS = [60, 300, 1800, 7200, 21600]

# --- notifications: delivery, retries, reminders (docs/architecture.md#emails) ----------------------
# A worker sending one email holds its row this long (seconds); if it dies meanwhile, the row is due
# again after it. Keep it well above the provider's HTTP timeout (anymail's REQUESTS_TIMEOUT, 30 s).
NOTIFICATION_SEND_LEASE = env.int("NOTIFICATION_SEND_LEASE", default=300)
# The provider's delivery tracking webhook (/anymail/<esp>/tracking/) authenticates with HTTP basic
# auth: ANYMAIL_WEBHOOK_SECRET="user:password" (comma-separated to rotate: "new:pw,old:pw"), and the
# same credentials in the URL given to the provider. Unset, anymail would accept anybody's posts, so an
# unguessable placeholder makes the endpoint refuse every post until a real secret is set.
_webhook_secret = env.list("ANYMAIL_WEBHOOK_SECRET", default=[])
if not _webhook_secret:
    _webhook_secret = [f"unset:{secrets.token_urlsafe(32)}"]
ANYMAIL.setdefault("WEBHOOK_SECRET", _webhook_secret)

# --- webhooks for integrators (docs/architecture.md#webhooks) ---------------------------------------
# Retries after a failed try, in seconds from that try: 1 minute, 1 hour, 6 hours. A delivery whose last
# retry fails is FAILED.
WEBHOOKS_RETRY_DELAYS = [60, 3600, 21600]
# Connect and read timeout of one POST, in seconds.
WEBHOOKS_TIMEOUT = env.float("WEBHOOKS_TIMEOUT", default=5.0)
# How long a claimed delivery stays SENDING before another worker may take it over (its worker died).
WEBHOOKS_LEASE_SECONDS = 120
# An endpoint whose deliveries end FAILED this many times in a row is disabled, and the organization's
# owners and admins are emailed.
WEBHOOKS_DISABLE_AFTER_FAILURES = 5
# SSRF guard: URLs that resolve to private, loopback, link-local or reserved addresses are refused, at
# input and again at every send, unless this is set (local development, tests).
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
# Deliveries carry the Standard Webhooks headers. For one release they also carry the old ones
# (Allot-Timestamp, Allot-Signature, Allot-Event-Id, Allot-Event-Type), so receivers written for them keep
# verifying while they move to a Standard Webhooks library; false drops them now. Removed in the next release.
WEBHOOKS_LEGACY_HEADERS = env.bool("WEBHOOKS_LEGACY_HEADERS", default=True)

# --- hardening: password hashing, login brute-force protection, cookies, CSP, logging ---------------
# (section kept for the production-hardening work; see docs/DEPLOYMENT.md)

# Argon2 hashes new passwords; the other hashers stay so existing PBKDF2 hashes still verify (and are
# rehashed with Argon2 at the user's next login).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# Cookies: never readable from JavaScript (nothing of ours reads the CSRF cookie: the admin and the
# public forms post the token from the form field), Secure unless DEBUG (above), not sent on cross-site
# subrequests or POSTs.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Login brute-force protection (django-axes) for the admin's login form: after AXES_FAILURE_LIMIT wrong
# passwords for one username from one client address, that pair is refused (the lockout page, HTTP 429),
# even with the right password, for AXES_COOLOFF_MINUTES. Locking the pair rather than the username
# alone means an attacker elsewhere cannot lock a member out. Attempts are rows in the database, so
# every app server sees the same counts. `manage.py axes_reset` (or axes_reset_username) lifts a lockout.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out pair before any password is checked. It needs the request, which the
    # admin's login form passes to authenticate(); a caller without one fails loudly instead of skipping it.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last: turns a lockout into the lockout page
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.security.lockout_response"  # the admin-framed page, HTTP 429
# The client address as the throttles see it: REMOTE_ADDR, or with NUM_PROXIES set the address that many
# proxies in from the right of X-Forwarded-For (a client can prepend anything to that header).
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"

# Secrets in URLs and headers stay out of logs and error reports: the booker's private link
# (/b/<token>/), calendar feed URLs (/feeds/<token>.ics) and API tokens (Authorization: Bearer ...).
# config.redaction masks them in log records (django.request, django.server, ...) and in Django's error
# reports; gunicorn's access log does the same through config/gunicorn.py.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.redaction.RedactingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "config.redaction.RedactingExceptionReporter"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "config.redaction.RedactTokensFilter"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
    "loggers": {
        # On the loggers too (a handler's filter only guards that handler): the record is masked where it
        # is made, before any handler -- Sentry's, pytest's -- sees it.
        "django.request": {"filters": ["redact_tokens"]},
        "django.security": {"filters": ["redact_tokens"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_tokens"],
        },
    },
}
