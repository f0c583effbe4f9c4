"""Settings shared by every purpose. Values come only from the environment (see `.env.example`)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from . import environment as envs
from .logging import logging_config
from .storage import storage_backend

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = envs.path("PORTAL_VAR_DIR", BASE_DIR / "var")

SECRET_KEY = envs.required_str("SECRET_KEY")
DEBUG = envs.boolean("DEBUG", False)
ALLOWED_HOSTS = envs.str_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
if envs.env.str("POD_IP", default=""):
    ALLOWED_HOSTS.append(envs.env.str("POD_IP"))  # Kubernetes probes and Prometheus address the pod by IP
CSRF_TRUSTED_ORIGINS = envs.str_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "portal.teams",
    "portal.ops",
    "portal.web",
    "models_registry",
    "screening",
    "experiments",
]

MIDDLEWARE = [
    "portal.ops.middleware.RequestIdMiddleware",
    "portal.web.body_limits.RequestBodyLimitMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.web.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.web.middleware.PageLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.web.context.navigation",
            ],
        },
    },
]

DATABASES = {"default": envs.database("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = envs.integer("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envs.env.str("REDIS_URL", default="")
if REDIS_URL:
    # Reads miss and writes are dropped while Redis is down (portal.ops.cache); short timeouts so an
    # outage costs a request half a second at most, once per few seconds.
    CACHES = {
        "default": {
            "BACKEND": "portal.ops.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = envs.path("STATIC_ROOT", BASE_DIR / "staticfiles")
STORAGE_URL = envs.env.str("STORAGE_URL", default=str(VAR_DIR / "objects"))
STORAGES = {
    "default": storage_backend(STORAGE_URL),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Uploads: bounded in memory; large files spool to disk and stream onwards to object storage.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = envs.integer("MAX_UPLOAD_BYTES", 5 * 1024**3, minimum=1)
# A request body may hold one file of MAX_UPLOAD_BYTES and the form around it; a larger declared
# length is refused before it is read (portal.web.body_limits). docker/nginx.conf and the ingress
# allow the same (5 GiB + 1 MiB).
REQUEST_FORM_OVERHEAD_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + REQUEST_FORM_OVERHEAD_BYTES
# Under gunicorn, a request body that stops arriving this long is answered 408.
REQUEST_BODY_IDLE_SECONDS = envs.integer("REQUEST_BODY_IDLE_SECONDS", 30, minimum=1)
# Ingest: decompressed size bound (gzip bombs) and compounds per Parquet shard.
MAX_DECOMPRESSED_BYTES = envs.integer("MAX_DECOMPRESSED_BYTES", 50 * 1024**3, minimum=1)
LIBRARY_SHARD_ROWS = envs.integer("LIBRARY_SHARD_ROWS", 100_000, minimum=1)
# Browsing: compounds a substructure search tests per request before it answers with a "more" link.
LIBRARY_SEARCH_SCAN_ROWS = envs.integer("LIBRARY_SEARCH_SCAN_ROWS", 20_000, minimum=1)
# Ingest recovery: starts an ingest gets, when a silent one (no heartbeat) is redone, when a queued
# one whose task never started is sent again, and how often beat checks.
LIBRARY_INGEST_ATTEMPTS = envs.integer("LIBRARY_INGEST_ATTEMPTS", 3, minimum=1)
LIBRARY_INGEST_STALE_SECONDS = envs.integer("LIBRARY_INGEST_STALE_SECONDS", 600, minimum=30)
LIBRARY_QUEUED_STALE_SECONDS = envs.integer("LIBRARY_QUEUED_STALE_SECONDS", 600, minimum=30)
LIBRARY_RECONCILE_SECONDS = envs.integer("LIBRARY_RECONCILE_SECONDS", 60, minimum=1)

# Model registry: package size bound, predictions per request, loaded models kept per process.
MAX_PACKAGE_BYTES = envs.integer("MAX_PACKAGE_BYTES", 2 * 1024**3, minimum=1)
PREDICT_MAX_SMILES = envs.integer("PREDICT_MAX_SMILES", 1000, minimum=1)
# Work bounds: heavy atoms per molecule (API and campaigns), seconds of scoring per predict request
# (keep it well below GUNICORN_TIMEOUT and the proxies' read timeouts).
MAX_HEAVY_ATOMS = envs.integer("MAX_HEAVY_ATOMS", 150, minimum=1)
PREDICT_TIME_BUDGET_SECONDS = envs.integer("PREDICT_TIME_BUDGET_SECONDS", 20, minimum=1)
# Room past the budget for the last batch and a model's first load in a process.
PREDICT_TIMEOUT_MARGIN_SECONDS = 30
_gunicorn_timeout = envs.integer("GUNICORN_TIMEOUT", 120, minimum=1)  # read by portal/gunicorn.conf.py too
if _gunicorn_timeout < PREDICT_TIME_BUDGET_SECONDS + PREDICT_TIMEOUT_MARGIN_SECONDS:
    raise ImproperlyConfigured(
        f"PREDICT_TIME_BUDGET_SECONDS={PREDICT_TIME_BUDGET_SECONDS} must be at least "
        f"{PREDICT_TIMEOUT_MARGIN_SECONDS} s below GUNICORN_TIMEOUT={_gunicorn_timeout} "
        "(and the proxy's read/send timeouts, which match it)"
    )
MODEL_CACHE_DIR = envs.path("MODEL_CACHE_DIR", VAR_DIR / "model-cache")
MODEL_CACHE_SIZE = envs.integer("MODEL_CACHE_SIZE", 4, minimum=1)

# Campaigns: hits kept per campaign, tries per shard job, when a silent shard job counts as lost, when a
# queued one that never started is sent again, and the container image and resources the shard job
# gets on AWS Batch / Kubernetes.
CAMPAIGN_MAX_TOP_K = envs.integer("CAMPAIGN_MAX_TOP_K", 10_000, minimum=1)
CAMPAIGN_SHARD_ATTEMPTS = envs.integer("CAMPAIGN_SHARD_ATTEMPTS", 3, minimum=1)
CAMPAIGN_SHARD_STALE_SECONDS = envs.integer("CAMPAIGN_SHARD_STALE_SECONDS", 600, minimum=30)
CAMPAIGN_SHARD_RESEND_SECONDS = envs.integer("CAMPAIGN_SHARD_RESEND_SECONDS", 600, minimum=30)
CAMPAIGN_RECONCILE_SECONDS = envs.integer("CAMPAIGN_RECONCILE_SECONDS", 60, minimum=1)
SCREENING_IMAGE = envs.env.str("SCREENING_IMAGE", default="portal:latest")
SCREENING_JOB_VCPU = envs.integer("SCREENING_JOB_VCPU", 1, minimum=1)
SCREENING_JOB_MEMORY_MIB = envs.integer("SCREENING_JOB_MEMORY_MIB", 4096, minimum=256)
# What the shard job's container is given: these variables copied from this process's environment,
# and secrets by reference ("VARIABLE=secret-name:key,…", a Kubernetes Secret or a Secrets Manager ARN).
SCREENING_JOB_ENV = envs.env.list(
    "SCREENING_JOB_ENV",
    default=["DJANGO_SETTINGS_MODULE", "STORAGE_URL", "AWS_S3_ENDPOINT_URL", "AWS_DEFAULT_REGION", "LOG_FORMAT"],
)
SCREENING_JOB_SECRETS = envs.env.str(
    "SCREENING_JOB_SECRETS", default="DATABASE_URL=portal-secrets:DATABASE_URL,SECRET_KEY=portal-secrets:SECRET_KEY"
)

# Celery: queues named by workload; late acks and prefetch 1 so a killed worker's task is redone.
CELERY_BROKER_URL = envs.broker_url(
    "CELERY_BROKER_URL", envs.env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
)
CELERY_RESULT_BACKEND = envs.env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
CELERY_TASK_DEFAULT_QUEUE = "default"
# Task modules beyond each app's own `tasks` (which autodiscovery finds).
CELERY_IMPORTS = ("screening.campaigns.tasks",)
CELERY_TASK_ROUTES = {
    "screening.tasks.library_reconcile": {"queue": "default"},  # never behind long ingests
    "screening.tasks.library_*": {"queue": "ingest"},
    "screening.campaigns.tasks.*": {"queue": "screening"},
    "experiments.tasks.*": {"queue": "hpo"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_SOFT_TIME_LIMIT = envs.integer("CELERY_TASK_SOFT_TIME_LIMIT", 3600, minimum=1)
CELERY_TASK_TIME_LIMIT = envs.integer("CELERY_TASK_TIME_LIMIT", 3900, minimum=1)
# Redis redelivers an unacknowledged task after the visibility timeout: keep it beyond the longest
# task, so a long ingest is never delivered twice while it still runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# HPO experiments: the URL trial jobs call back (PORTAL_URL in the job), the trainer image on Batch /
# Kubernetes, how often jobs heartbeat and when a silent one counts as lost, how long a submitted job
# may take to start, how long a trial token outlives the trial's timeout, the package size bound,
# the log tail copied to object storage, and how often the reconcile runs.
TRIAL_PORTAL_URL = envs.env.str("TRIAL_PORTAL_URL", default="http://localhost:8000")
if not TRIAL_PORTAL_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"TRIAL_PORTAL_URL={TRIAL_PORTAL_URL!r} must be an http:// or https:// URL")
TRIAL_IMAGE = envs.env.str("TRIAL_IMAGE", default="trainer:latest")
TRIAL_HEARTBEAT_SECONDS = envs.integer("TRIAL_HEARTBEAT_SECONDS", 30, minimum=1)
TRIAL_STALE_SECONDS = envs.integer("TRIAL_STALE_SECONDS", 300, minimum=5)
TRIAL_START_TIMEOUT_SECONDS = envs.integer("TRIAL_START_TIMEOUT_SECONDS", 3600, minimum=10)
# A job starts while its trial is asked of Optuna; its first call waits this long for the parameters.
TRIAL_PARAMS_WAIT_SECONDS = envs.integer("TRIAL_PARAMS_WAIT_SECONDS", 10, minimum=0)
TRIAL_TOKEN_MARGIN_SECONDS = envs.integer("TRIAL_TOKEN_MARGIN_SECONDS", 3600, minimum=60)
TRIAL_MAX_PACKAGE_BYTES = envs.integer("TRIAL_MAX_PACKAGE_BYTES", MAX_PACKAGE_BYTES, minimum=1)
TRIAL_LOG_TAIL_BYTES = envs.integer("TRIAL_LOG_TAIL_BYTES", 1024 * 1024, minimum=1024)
EXPERIMENT_RECONCILE_SECONDS = envs.integer("EXPERIMENT_RECONCILE_SECONDS", 30, minimum=1)
# An experiment step stays on (with Redis) as its driver while its trials keep finishing, woken at
# once by each, until it has been idle this long (0: one step per task) or has run for
# HPO_DRIVER_MAX_SECONDS; it holds a worker process while it runs.
HPO_DRIVER_IDLE_SECONDS = envs.integer("HPO_DRIVER_IDLE_SECONDS", 2, minimum=0)
HPO_DRIVER_MAX_SECONDS = envs.integer("HPO_DRIVER_MAX_SECONDS", 600, minimum=1)
if HPO_DRIVER_MAX_SECONDS + 60 > CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"HPO_DRIVER_MAX_SECONDS={HPO_DRIVER_MAX_SECONDS} must leave a minute before the task's "
        f"CELERY_TASK_SOFT_TIME_LIMIT={CELERY_TASK_SOFT_TIME_LIMIT}"
    )

CELERY_BEAT_SCHEDULE: dict = {
    "library-reconcile": {
        "task": "screening.tasks.library_reconcile",
        "schedule": LIBRARY_RECONCILE_SECONDS,
    },
    "campaign-reconcile": {
        "task": "screening.campaigns.tasks.campaign_reconcile",
        "schedule": CAMPAIGN_RECONCILE_SECONDS,
    },
    "experiment-reconcile": {
        "task": "experiments.tasks.experiment_reconcile",
        "schedule": EXPERIMENT_RECONCILE_SECONDS,
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "portal.api.permissions.TokenScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": envs.env.str("API_THROTTLE_RATE", default="1200/minute"),
        "trial": envs.env.str("TRIAL_THROTTLE_RATE", default="600/minute"),
    },
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Drug-discovery ML platform API",
    "DESCRIPTION": (
        "Compound libraries and screening campaigns, HPO experiments, the model registry and predictions. "
        "Authenticate with a personal API token: `Authorization: Bearer <token>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status" field; give each choice set its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "ModelVersionStatusEnum": "models_registry.models.ModelVersion.Status",
        "LibraryStatusEnum": "screening.models.Library.Status",
        "CampaignStatusEnum": "screening.models.Campaign.Status",
        "CampaignShardStatusEnum": "screening.models.CampaignShard.Status",
        "ExperimentStatusEnum": "experiments.models.Experiment.Status",
        "TrialStateEnum": "experiments.models.Trial.State",
    },
}

LOG_LEVEL = envs.choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
LOG_FORMAT = envs.choice("LOG_FORMAT", "json", {"json", "text"})
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)

# Behind a TLS-terminating proxy (nginx, the ingress) trust its scheme header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
# Every response's Content-Security-Policy (portal.web.csp): the portal's own scripts, styles and
# connections only, no inline code; structures are drawn as data: URIs. The hashes are of the two
# <style> elements plotly.js adds: an empty one (filled through the CSSOM) and the MapLibre
# stylesheet bundled in plotly.js 4.1 (tests/e2e/test_content_security_policy.py names a new one).
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": [
        "'self'",
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",
    ],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

PROMETHEUS_METRIC_NAMESPACE = "portal"
# /metrics answers callers from these networks (the connecting address: behind a proxy, the proxy's)
# and callers sending `Authorization: Bearer <METRICS_TOKEN>`; everyone else gets 403.
METRICS_ALLOWED_NETWORKS = envs.networks("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
METRICS_TOKEN = envs.env.str("METRICS_TOKEN", default="")

# Compute backends (compute): where training trials and screening shard jobs run as containers.
# "local" needs nothing; "batch" and "kubernetes" read the rest only when used, so none is required.
COMPUTE_LOCAL_DIR = envs.path("COMPUTE_LOCAL_DIR", VAR_DIR / "jobs")
COMPUTE_LOCAL_PARALLELISM = envs.integer("COMPUTE_LOCAL_PARALLELISM", 2, minimum=1)
AWS_DEFAULT_REGION = envs.env.str("AWS_DEFAULT_REGION", default="") or envs.env.str("AWS_REGION", default="")
AWS_BATCH_JOB_QUEUE = envs.env.str("AWS_BATCH_JOB_QUEUE", default="")
AWS_BATCH_ENDPOINT_URL = envs.env.str("AWS_BATCH_ENDPOINT_URL", default="")
AWS_BATCH_JOB_ROLE_ARN = envs.env.str("AWS_BATCH_JOB_ROLE_ARN", default="")
AWS_BATCH_EXECUTION_ROLE_ARN = envs.env.str("AWS_BATCH_EXECUTION_ROLE_ARN", default="")
KUBERNETES_NAMESPACE = envs.env.str("KUBERNETES_NAMESPACE", default="")  # empty: the pod's own namespace
KUBERNETES_IN_CLUSTER = envs.boolean("KUBERNETES_IN_CLUSTER", bool(envs.env.str("KUBERNETES_SERVICE_HOST", default="")))
KUBERNETES_JOB_TTL_SECONDS = envs.integer("KUBERNETES_JOB_TTL_SECONDS", 86_400, minimum=0)
KUBERNETES_SERVICE_ACCOUNT = envs.env.str("KUBERNETES_SERVICE_ACCOUNT", default="")
