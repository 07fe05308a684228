"""Content Studio settings: one file, every knob an environment variable.

Each variable is documented in docker/.env.example. Defaults are for one developer
machine (SQLite, local Redis, DEBUG on); production sets DEBUG=false and must then
give SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", True)
VAR_DIR = Path(os.environ.get("STUDIO_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # Development only: a throwaway key, never a fixed one checked into the repo.
    SECRET_KEY = "dev-insecure-" + os.environ.get("USER", "studio") + "-not-for-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "template_partials",
    "django_htmx",
    "rest_framework",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "studio",
]

MIDDLEWARE = [
    # First, so every response carries the CSP: a 400 for a bad Host header, an HTTPS
    # redirect and static files included, not only what the views answer.
    "csp.middleware.CSPMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "studio.middleware.CurrentTeamMiddleware",
    "studio.middleware.PasswordChangeRequiredMiddleware",
    # Turns a login refused for too many failures into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"

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
                "studio.context_processors.studio",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'studio.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the workers share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["NAME"] and DATABASES["default"]["NAME"] != ":memory:":
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": envint("PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Failed sign-ins (django-axes): after LOGIN_FAILURE_LIMIT failures for one username, or
# from one address, that account or address is refused (429, with the wait) for
# LOGIN_LOCKOUT_MINUTES; a success clears the count. The same count guards creating an
# API token, which asks for the password again. Operators unlock early with
# `manage.py axes_reset_username <name>` / `axes_reset_ip <address>`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = True
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# Behind a proxy every request comes from the proxy's address: count the client's, the
# address that many hops from the right of X-Forwarded-For (0: the socket's address).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "studio.services.accounts.client_address"

# API tokens (Authorization: Token <key>) stop working this many days after they are
# made, when their owner revokes them, and when the owner's password changes.
API_TOKEN_DAYS = envint("API_TOKEN_DAYS", 90)
# Requests with a wrong token one address may make in any 60 seconds before it gets 429.
API_TOKEN_FAILURE_RATE = envint("API_TOKEN_FAILURE_RATE", 20)

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Request size: a brief's source text is capped by the form; this is the hard stop.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
# How deep a JSON body may nest lists and objects (the API's bodies need 4): deeper is 400.
API_JSON_MAX_DEPTH = envint("API_JSON_MAX_DEPTH", 32)

# Security. In production (DEBUG off) everything secure is on by default.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
if envbool("SECURE_PROXY_SSL_HEADER", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers probe /healthz over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 14 * 24 * 3600)

# Content-Security-Policy: no inline scripts and no eval anywhere; htmx is configured
# to match (allowEval=false, allowScriptTags=false, selfRequestsOnly=true).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Celery: queues ``generate`` (model inference), ``train`` (fine-tuning) and ``default``
# (housekeeping, webhook deliveries). studio/celery.py reads every CELERY_* setting below.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
# Longest a generation or training task may run.
GENERATION_TASK_TIME_LIMIT = envint("GENERATION_TASK_TIME_LIMIT", 30 * 60)
TRAINING_TASK_TIME_LIMIT = envint("TRAINING_TASK_TIME_LIMIT", 6 * 3600)
GENERATION_MAX_ATTEMPTS = envint("GENERATION_MAX_ATTEMPTS", 3)
# A running job without a heartbeat this long is re-sent by the reconciler (a live worker
# beats every quarter of it), and so is a queued job sent this long ago whose message is
# no longer in Redis: a message lost with Redis (a restart without persistence, a flush)
# is sent again at the first reconcile once Redis is back and the send is this old, so
# within GENERATION_STUCK_AFTER + RECONCILE_EVERY (150 s) of its send at most.
GENERATION_STUCK_AFTER = envint("GENERATION_STUCK_AFTER", 120)
RECONCILE_EVERY = envint("RECONCILE_EVERY", 30)
# A queued job whose message still waits in Redis behind others is left alone: it is sent
# again only after its age, at least this many seconds and at most an hour (in case the
# message went missing while Redis kept its "waiting" key, e.g. a purged queue). A job
# waiting T seconds is sent about 1 + log2(T / this) times, not every RECONCILE_EVERY.
GENERATION_RESEND_AFTER = envint("GENERATION_RESEND_AFTER", 600)
# A training job running without a heartbeat this long is re-sent (its worker died);
# the new run resumes from the last complete checkpoint.
TRAINING_STUCK_AFTER = envint("TRAINING_STUCK_AFTER", 300)
# Claims of a training job before it is marked failed: each dead worker counts as one.
TRAINING_MAX_ATTEMPTS = envint("TRAINING_MAX_ATTEMPTS", 3)
# Seconds between checks for projects with enough new examples to retrain (auto-retrain).
AUTO_RETRAIN_EVERY = envint("AUTO_RETRAIN_EVERY", 15 * 60)
# Jobs on the same base model a worker writes at once: its continuous batch takes the next
# job (teams in turn) at the next decoding step while fewer are running.
GENERATION_MICRO_BATCH = envint("GENERATION_MICRO_BATCH", 8)
# Seconds a running job's partial text stays in Redis after its last write (it is deleted
# when the drafts land; this bounds what a killed worker leaves behind).
GENERATION_PARTIAL_TTL = envint("GENERATION_PARTIAL_TTL", 600)
# Characters of the project's own text each draft is checked against for near-copies: the
# prompt's examples, then the training snapshot of the model writing it, then approved
# texts, newest first. The index is built for every job, about 0.4 s and 65 MB per million
# characters on a 2-core CPU: 2 M, about 1,000 texts of 300 words, take 0.8 s and 130 MB;
# all of 5,000 such texts (9.2 M) would take 3.2 s and 630 MB.
GENERATION_REFERENCE_CHARS = envint("GENERATION_REFERENCE_CHARS", 2_000_000)

# Project knowledge (documents and facts that briefs retrieve into their prompts).
# An upload larger than this is refused from its Content-Length, before it is read.
KNOWLEDGE_UPLOAD_MAX_BYTES = envint("KNOWLEDGE_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
# Characters of text one document may hold (typed, or extracted from a file).
KNOWLEDGE_DOCUMENT_MAX_CHARS = envint("KNOWLEDGE_DOCUMENT_MAX_CHARS", 1_000_000)
# Lines a project's fact list may hold.
KNOWLEDGE_MAX_FACTS = envint("KNOWLEDGE_MAX_FACTS", 2_000)
# Passages a project may hold in all: every job ranks them all (BM25 over 20,000
# passages of 600 characters takes about 1 s on a 2-core CPU).
KNOWLEDGE_PROJECT_MAX_PASSAGES = envint("KNOWLEDGE_PROJECT_MAX_PASSAGES", 20_000)
# Longest passage a document is split into (a few sentences).
KNOWLEDGE_PASSAGE_CHARS = envint("KNOWLEDGE_PASSAGE_CHARS", 600)
# Passages retrieved per brief, and the characters they may fill in its prompt together.
KNOWLEDGE_TOP_K = envint("KNOWLEDGE_TOP_K", 5)
KNOWLEDGE_PROMPT_CHARS = envint("KNOWLEDGE_PROMPT_CHARS", 2_400)

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES: dict[str, dict[str, str]] = {"generate": {}, "train": {}, "default": {}}
CELERY_TASK_ROUTES = {
    "studio.tasks.generation.*": {"queue": "generate"},
    "studio.tasks.training.*": {"queue": "train"},
    "studio.tasks.housekeeping.*": {"queue": "default"},
    "studio.tasks.webhooks.*": {"queue": "default"},
    "studio.tasks.notifications.*": {"queue": "default"},
}
# A model task holds a GPU: one message at a time, acked only when done, and given back
# to the queue when the worker dies under it.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TRACK_STARTED = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# Redis redelivers an unacked message after visibility_timeout: it must outlast the
# longest task and retry countdown, or a long job would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": max(GENERATION_TASK_TIME_LIMIT, TRAINING_TASK_TIME_LIMIT) + 3600
}
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BEAT_SCHEDULE = {
    "reconcile-generation-jobs": {
        "task": "studio.tasks.housekeeping.reconcile_jobs",
        "schedule": float(RECONCILE_EVERY),
    },
    # Training housekeeping runs on the default queue, not behind a long training job.
    "reconcile-training-jobs": {
        "task": "studio.tasks.training.reconcile_training_jobs",
        "schedule": float(RECONCILE_EVERY),
        "options": {"queue": "default"},
    },
    "auto-retrain": {
        "task": "studio.tasks.training.auto_retrain",
        "schedule": float(AUTO_RETRAIN_EVERY),
        "options": {"queue": "default"},
    },
    "notify-overdue-drafts": {
        "task": "studio.tasks.notifications.notify_overdue_drafts",
        "schedule": float(envint("OVERDUE_CHECK_EVERY", 900)),
        "options": {"queue": "default"},
    },
}

# Models.
MODEL_CACHE_DIR = Path(os.environ.get("MODEL_CACHE_DIR", VAR_DIR / "models"))
ADAPTER_DIR = Path(os.environ.get("ADAPTER_DIR", VAR_DIR / "adapters"))
DATASET_DIR = Path(os.environ.get("DATASET_DIR", VAR_DIR / "datasets"))
DEFAULT_BASE_MODEL = os.environ.get("DEFAULT_BASE_MODEL", "bundled:smollm2-135m-instruct")
GENERATION_DEVICE = os.environ.get("GENERATION_DEVICE", "") or None
# Cap on new tokens per draft (2048 holds the longest default, a 600-word article, with
# room to spare). The brief form allows at most the words that fit; a capped request's
# prompt asks for the length the cap can hold.
GENERATION_MAX_NEW_TOKENS = envint("GENERATION_MAX_NEW_TOKENS", 2048)
# The promotion gate (generation.gate): held-out briefs it writes for (at most), tokens
# per gate draft (at most), and bootstrap resamples of the paired edit-cost difference.
GATE_MAX_BRIEFS = envint("GATE_MAX_BRIEFS", 16)
GATE_MAX_NEW_TOKENS = envint("GATE_MAX_NEW_TOKENS", 96)
GATE_BOOTSTRAP_RESAMPLES = envint("GATE_BOOTSTRAP_RESAMPLES", 2000)

# Webhooks may go only to public addresses (no loopback, private, link-local or
# metadata addresses: SSRF guard). True lifts that rule and exists only so tests can
# deliver to a local server; the default is false and production must keep it false.
WEBHOOK_ALLOW_PRIVATE = envbool("WEBHOOK_ALLOW_PRIVATE", False)

# Review claims: how long opening a draft keeps it for one editor.
REVIEW_CLAIM_SECONDS = envint("REVIEW_CLAIM_SECONDS", 5 * 60)
# Presence ("Ana is reviewing"): an open review page says so every PRESENCE_BEAT
# seconds; a name goes from the page PRESENCE_TTL seconds after its last beat.
PRESENCE_BEAT = envint("PRESENCE_BEAT", 15)
PRESENCE_TTL = envint("PRESENCE_TTL", 40)
PRESENCE_REDIS_URL = os.environ.get("PRESENCE_REDIS_URL", "") or CELERY_BROKER_URL

# Notification e-mails: Django's mail backends (console by default while DEBUG is on,
# SMTP otherwise: EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
# EMAIL_USE_TLS). STUDIO_BASE_URL makes the links in them absolute.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Content Studio <studio@localhost>")
STUDIO_BASE_URL = os.environ.get("STUDIO_BASE_URL", "http://127.0.0.1:8000")

REST_FRAMEWORK = {
    # Size and depth limits on every JSON body (studio/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["studio.api.parsers.StudioJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "studio.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Content Studio API",
    "DESCRIPTION": "Briefs, drafts, reviews, training data, training jobs and model versions.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "BriefStatusEnum": "studio.models.briefs.Brief.Status",
        # Generation and training jobs share one set of statuses (studio.models.jobs).
        "JobStatusEnum": "studio.models.briefs.GenerationJob.Status",
        "DraftStatusEnum": "studio.models.drafts.Draft.Status",
        "ModelVersionStatusEnum": "studio.models.training.ModelVersion.Status",
        "ContentKindEnum": "studio.models.briefs.kind_choices",
        "TrainingExampleKindEnum": "studio.models.training.TrainingExample.Kind",
        "NotificationKindEnum": "studio.models.notifications.NotificationKind",
        "KnowledgeDocumentKindEnum": "studio.models.knowledge.KnowledgeDocument.Kind",
    },
}
# Generation requests (brief submit, regenerate: the API and the pages together) one team
# may make in any 60 seconds; a sliding window in Redis (one Lua script).
API_GENERATION_RATE = envint("API_GENERATION_RATE", 30)
API_THROTTLE_REDIS_URL = os.environ.get("API_THROTTLE_REDIS_URL", "") or CELERY_BROKER_URL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
