"""Settings, read from the environment.

Unset DATABASE_URL gives a SQLite file and unset CELERY_BROKER_URL runs tasks
in-process: the embedded default for a first run. Production needs DEBUG off,
a real SECRET_KEY and ALLOWED_HOSTS; missing or unsafe values stop start-up.
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY")
MIN_KEY_CHARACTERS = 20  # distinct characters in a production SECRET_KEY
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (50+ random characters), or DEBUG=true for a local development run."
        )
    SECRET_KEY = "insecure-development-key-only-for-debug-runs-on-a-laptop-0123456789"  # noqa: S105 (DEBUG only)
elif not DEBUG and (
    len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < MIN_KEY_CHARACTERS
):
    # A long key of few distinct characters ("k" * 60, a repeated word) is guessable: ask for random ones.
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak for DEBUG=false: use 50+ random characters, at least {MIN_KEY_CHARACTERS} of them"
        " different (python3 -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty: list the host names this site serves.")
if not DEBUG and any("*" in host for host in ALLOWED_HOSTS):
    # A wildcard lets any Host header through: poisoned password-reset links and absolute URLs.
    raise ImproperlyConfigured("ALLOWED_HOSTS must not contain '*' when DEBUG=false: list the host names.")

# HTTPS=true: served behind a TLS proxy that sets X-Forwarded-Proto (and appends X-Forwarded-For).
# Requests it marks https are secure (so links are https:// and the CSRF origin check passes), plain
# http is redirected, browsers are told to use HTTPS only (HSTS) and cookies are sent over HTTPS only.
HTTPS = env_bool("HTTPS", default=False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Form posts from the site's own origins; behind the proxy these are https://<each host>.
CSRF_TRUSTED_ORIGINS = [
    *env_list("CSRF_TRUSTED_ORIGINS"),
    *(f"https://*{host}" if host.startswith(".") else f"https://{host}" for host in ALLOWED_HOSTS if HTTPS),
]
# How many proxies append to X-Forwarded-For: the client address (sign-in lockouts, API throttles) is
# the entry the nearest proxy added. Without HTTPS the app is reached directly and REMOTE_ADDR is used.
PROXY_COUNT = env_int("PROXY_COUNT", 1 if HTTPS else 0)

# Cookies travel over HTTPS only in production; a local run over http needs them off.
SECURE_COOKIES = HTTPS or env_bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy on every page (django-csp): scripts come only from this site's static files,
# never inline (charts' data travel as <script type="application/json">, which does not run); nothing
# is loaded from elsewhere. img-src allows data: and blob: for the PNG downloads drawn in the page.
# Stylesheets too come only from static files: Plotly's own is static/vendor/plotly.js-*/plotly.css, so it
# adds no <style> element. Plotly does set style attributes on SVG text it draws (hover labels), so
# style-src-attr allows those, and only those: an attribute cannot load a stylesheet or use selectors, and
# any url() in it is still held to img-src. The API's documentation pages get a wider style-src (api/docs.py).
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        **({"upgrade-insecure-requests": True} if HTTPS else {}),
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "audits",
    "indicators",
    "outliers",
    "dashboards",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "accounts",
    "api",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.security.TwoFactorRequiredMiddleware",
    "accounts.security.SessionLengthMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into its answer
]

ROOT_URLCONF = "cancerplan.urls"
WSGI_APPLICATION = "cancerplan.wsgi.application"

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

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 60))}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "cancerplan.sqlite3"),
            # Two uploads at once: a transaction takes the write lock when it begins (IMMEDIATE), so the second
            # waits for the first (busy timeout, seconds) instead of failing with "database is locked"; imports
            # themselves also take turns (audits.services.imports._sqlite_import_turn).
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes first: it refuses a sign-in while the account or the address is locked out.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Lockout: 10 failed sign-ins in a row for one account (from anywhere), or from one address (for any
# account), lock that account or address out for 15 minutes. Axes keeps the attempts and lockouts
# (admin site: Access attempts, Access failures); accounts.security logs each lockout.
AXES_FAILURE_LIMIT = 10
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "accounts.security.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Two-factor sign-in (TOTP, django-otp) for the audits' analysts and staff, who reach patient rows and
# run the service: required whenever DEBUG is off. `make demo` (DEBUG=true) keeps the password alone.
TWO_FACTOR_REQUIRED = not DEBUG
OTP_TOTP_ISSUER = "Cancer audit dashboards"
# Sessions: analysts and staff are signed out after 30 minutes without a request, everyone else after
# 12 hours (Django's default is 14 days). Each request (at most one write a minute) renews the time.
SESSION_COOKIE_AGE = 12 * 3600
SESSION_IDLE_SECONDS_PRIVILEGED = 30 * 60
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploads of several hundred MB go to a temporary file, not memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The largest extract accepted (bytes), checked before a file is stored or read: a larger upload is
# refused with a report naming the limit (audits.services.check_extract_size).
MAX_EXTRACT_BYTES = env_int("MAX_EXTRACT_BYTES", 2 * 1024**3)
# ... and an upload over it is only counted as it arrives, not written to disk (audits.uploads).
FILE_UPLOAD_HANDLERS = [
    "audits.uploads.ExtractSizeLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# An uploaded extract holds patient rows: only the service's own user may read it (and the folders it is
# in), and it is deleted when its import ends (audits.services.run_import_job).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Audit definitions: one YAML file per audit. Extra folders (e.g. a registry's own) may be added.
AUDIT_DEFINITION_DIRS = [BASE_DIR / "audits" / "definitions", *map(Path, env_list("AUDIT_DEFINITION_DIRS"))]

# Celery: unset broker means tasks run in-process (eagerly) for a first run.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")

# The cache holds API throttle counts and serialized pages of API results. With Redis (REDIS_URL, or else
# the broker when it is Redis) every worker process shares it; otherwise each process has its own, bounded
# by entry count (and the API caches pages of at most 1,000 rows, so an entry is at most a few hundred KB).
REDIS_URL = env_str("REDIS_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 300}}
}
CACHES["default"]["KEY_PREFIX"] = "cancerplan"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3900)
# Redis hands an unacknowledged message (acks_late) to another worker after the visibility timeout: it must
# outlast the hard time limit, or a long task still running is started a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 300),
}
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']} s) must be longer than "
        f"CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT} s): the broker would hand a task still running to another "
        "worker. Leave it unset (the time limit + 300 s) or raise it."
    )
# Leases on import jobs and indicators (audits.leases): a job not renewed for JOB_LEASE_SECONDS by a live
# process is lost; the reaper runs it again, up to JOB_MAX_ATTEMPTS starts, then fails it with the reason.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 120)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
if JOB_LEASE_SECONDS < 2 or JOB_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("JOB_LEASE_SECONDS must be at least 2 and JOB_MAX_ATTEMPTS at least 1.")
# `celery -A cancerplan beat` sends the reaper every half lease (in-process mode: see cancerplan/wsgi.py).
CELERY_BEAT_SCHEDULE = {
    "reap-lost-jobs": {
        "task": "indicators.reap_jobs",
        "schedule": JOB_LEASE_SECONDS / 2,
        "options": {"expires": JOB_LEASE_SECONDS / 2},  # one waiting behind busy workers is dropped, not piled up
    },
    # The outlier process's overdue stages, daily: reminders, then escalations, each sent once whenever it runs
    # (outliers.services.check_overdue). A timedelta, not a crontab: the settings load no Celery.
    "outlier-reminders": {
        "task": "outliers.check_overdue",
        "schedule": timedelta(days=1),
        "options": {"expires": 12 * 3600},
    },
}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "cancerplan")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-axes logs each failed sign-in and each lockout; not its start-up banner in every command.
    "loggers": {"axes.apps": {"level": "WARNING"}},
}

# Celery tasks (dotted paths) queued once a release is accepted; each takes the release id.
AFTER_RELEASE_TASKS = env_list("AFTER_RELEASE_TASKS", "indicators.tasks.compute_release")
# ... and once a computation run's results become current; each takes the run id.
AFTER_RUN_TASKS = env_list(
    "AFTER_RUN_TASKS", "dashboards.tasks.build_run_pages,outliers.tasks.open_cases,alerts.tasks.send_run_digests"
)
# The outlier process (outliers/): the address of the regulator (e.g. the CQC) told of confirmed outliers.
OUTLIER_REGULATOR_EMAIL = env_str("OUTLIER_REGULATOR_EMAIL")
# ... and once a release is published (at its upload, or later: audits.services.publish_release); each takes the
# release id. A release published before its results are
# ready gets its digests when its run ends (alerts.tasks.send_run_digests above); none is sent twice. The outlier
# cases of a policy that waits for publication (supportive contact) open then, or when the run ends.
AFTER_PUBLISH_TASKS = env_list("AFTER_PUBLISH_TASKS", "alerts.tasks.send_digests,outliers.tasks.open_published_cases")

# Email (the alerts' digests, sent by Celery tasks only). The console backend prints them (DEBUG, the demo);
# "django.core.mail.backends.filebased.EmailBackend" writes them to EMAIL_FILE_PATH; otherwise SMTP.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "emails"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cancer audit dashboards <noreply@localhost>")
# The site's address as the emails' links give it (no trailing slash).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Small-number suppression of published and exported counts. Rates and statistics use unrounded numbers.
# The keyword arguments of indicators.stats.suppression.SuppressionPolicy (marker may be added): its
# defaults are the policy (NHS Digital's rule: 1-7 shown as suppressed, other counts rounded to the
# nearest 5); only what the environment sets overrides them.
# A trust's team (its lead for an audit, the clinicians staff link to it) reads its own trust's exact figures; off,
# it reads the public ones like everyone else (docs/adr/0004-disclosure-control-against-differencing.md, "Trust teams").
TRUST_TEAMS_SEE_OWN_FIGURES = env_bool("TRUST_TEAMS_SEE_OWN_FIGURES", default=True)
SUPPRESSION_POLICY: dict[str, Any] = {
    key: env_int(name, 0)
    for key, name in (("low", "SUPPRESS_LOW"), ("high", "SUPPRESS_HIGH"), ("round_to", "SUPPRESS_ROUND_TO"))
    if os.environ.get(name, "").strip()
}

# The API (api/): read-mostly, JSON and CSV. Personal tokens are stored hashed (accounts.ApiToken).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "api.renderers.CSVRenderer",
        "api.docs.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Throttles count requests in the cache, per address for anonymous callers and per account for
    # tokens and sessions; past the rate the answer is 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.AnonymousThrottle", "api.throttling.AccountThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_RATE_ANON", "60/minute"),
        "user": env_str("API_RATE_USER", "600/minute"),
    },
    "NUM_PROXIES": PROXY_COUNT,
    "URL_FORMAT_OVERRIDE": "format",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cancer audit dashboards API",
    "DESCRIPTION": "Indicators, results, organisations and releases of the national cancer clinical audits, "
    "as JSON and CSV. Small counts are suppressed for everyone but the audit's analysts.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_error_responses"],
    "ENUM_NAME_OVERRIDES": {
        "ReleaseStatusEnum": "audits.models.Release.Status",
        "ImportJobStatusEnum": "audits.models.ImportJob.Status",
    },
}
