"""Embedded defaults: runs with nothing installed (SQLite file, file-based broker, local object folder).

Any variable set in the environment still wins.
"""

from pathlib import Path

from .environment import path, use_defaults

_var = path("PORTAL_VAR_DIR", Path(__file__).resolve().parents[2] / "var")

use_defaults(
    {
        "SECRET_KEY": "development-only-insecure-key-do-not-use-in-production",
        "DATABASE_URL": f"sqlite:///{_var / 'portal.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_RESULT_BACKEND": f"file://{_var / 'celery' / 'results'}",
        "STORAGE_URL": str(_var / "objects"),
        "LOG_FORMAT": "text",
    }
)

from .base import *  # noqa: E402, F403
from .base import CELERY_BROKER_URL, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web, worker and beat share one file: wait for locks rather than fail, and let reads run alongside.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = _var / "celery" / "queue"
    _processed_dir = _var / "celery" / "processed"
    _control_dir = _var / "celery" / "control"
    for _folder in (_queue_dir, _processed_dir, _control_dir, _var / "celery" / "results"):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
