"""Tests: real PostgreSQL and Redis on 127.0.0.1 unless the environment says otherwise; fast hashing."""

import tempfile

from .environment import use_defaults

use_defaults(
    {
        "SECRET_KEY": "test-only-key",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        # Tests never share the demo's object folder.
        "STORAGE_URL": tempfile.mkdtemp(prefix="portal-test-objects-"),
        "STATIC_ROOT": tempfile.mkdtemp(prefix="portal-test-static-"),
        "MODEL_CACHE_DIR": tempfile.mkdtemp(prefix="portal-test-models-"),
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "WARNING",
    }
)

from .base import *  # noqa: E402, F403
from .base import STORAGES  # noqa: E402

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No collectstatic before tests: serve static files straight from the apps.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
