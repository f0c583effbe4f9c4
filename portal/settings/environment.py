"""Reading configuration from the environment, in one place, failing loudly on bad values.

Every setting comes from an environment variable; secrets may instead come from a file named by
`<NAME>_FILE` (Docker and Kubernetes secrets). A missing or malformed value stops start-up with
`ImproperlyConfigured` naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.FileAwareEnv()

DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "sqlite"}
BROKER_SCHEMES = {"redis", "rediss", "filesystem", "memory", "amqp", "pyamqp"}


def use_defaults(defaults: Mapping[str, str]) -> None:
    """Fill unset variables, so one `base` module can serve every purpose (dev, test, prod)."""
    for name, value in defaults.items():
        if name not in os.environ and f"{name}_FILE" not in os.environ:
            os.environ[name] = value


def required_str(name: str) -> str:
    """A non-empty string; `<name>_FILE` is read when set."""
    try:
        value = env.str(name)
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            f"{name} is not set: set {name} (or {name}_FILE, a file holding it) in the environment"
        ) from None
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE cannot be read: {exc}") from None
    if not value.strip():
        raise ImproperlyConfigured(f"{name} is empty: give it a value")
    return value


def boolean(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false")


def integer(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}")
    return value


def choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(sorted(choices))}")
    return value


def str_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database(name: str = "DATABASE_URL") -> dict:
    """A Django `DATABASES` entry from a URL such as postgres://user:pass@host:5432/db."""
    url = required_str(name)
    scheme = urlsplit(url).scheme
    if scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} is not a database URL (got scheme {scheme!r}); "
            "expected e.g. postgres://user:password@host:5432/name or sqlite:////path/portal.sqlite3"
        )
    try:
        config = env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for malformed URLs
        raise ImproperlyConfigured(f"{name} is malformed: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: add /<name> to the URL")
    if scheme != "sqlite" and not config.get("HOST"):
        raise ImproperlyConfigured(f"{name} names no host")
    return config


def broker_url(name: str, url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in BROKER_SCHEMES:
        raise ImproperlyConfigured(f"{name}={url!r} has an unsupported scheme {scheme!r}")
    return url


def path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def networks(name: str, default: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated networks (`10.0.0.0/8`, `::1/128`, or single addresses)."""
    parsed = []
    for item in str_list(name, default):
        try:
            parsed.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a network such as 10.0.0.0/8") from None
    return parsed
