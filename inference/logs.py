"""Logging: one JSON object per line (python-json-logger), or plain text for a terminal."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def gunicorn_logconfig(level: str = "INFO", fmt: str = "json") -> dict:
    """gunicorn's own messages (start, workers, signals) in the same form as the app's."""
    formatter = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": JSON_FIELDS,
         "rename_fields": {"levelname": "level", "asctime": "time"}}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )  # fmt: skip
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stdout"}
        },
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": ["stdout"], "propagate": False},
        },
        "root": {"level": level, "handlers": ["stdout"]},
    }
