"""Reading the limits that the portal, nginx and the ingress must agree on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache

from .tooling import REPO

UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def nginx_size(value: str) -> int:
    """An nginx size ("5121m", "5g", "1024") in bytes."""
    number, unit = re.fullmatch(r"(\d+)([kmgKMG]?)", value.strip()).groups()
    return int(number) * UNITS[unit.lower()]


def nginx_seconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(s|m)?", value.strip()).groups()
    return int(number) * (60 if unit == "m" else 1)


def nginx_directive(config: str, name: str) -> str:
    (value,) = re.findall(rf"^\s*{name}\s+([^;]+);", config, flags=re.MULTILINE)
    return value


@cache
def default_setting(name: str):
    """A setting as production computes it with nothing but the required variables set."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "SECRET_KEY": "limits-check-only-key-limits-check-only-key-0123456789",
        "DATABASE_URL": "postgres://db.invalid:5432/portal",
        "REDIS_URL": "redis://redis.invalid:6379/0",
    }
    code = f"import json, django; django.setup(); from django.conf import settings; print(json.dumps(settings.{name}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout)
