"""A small HTTP client for the portal's API (Django-free: used by the trial job and the CLI).

Transient failures — the portal restarting, a proxy answering 502/503/504, a dropped connection —
are retried with backoff, so a job survives a portal redeploy; any other error answer becomes a
`PortalError` carrying the API's error format (status, code, message, fields).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import requests

RETRY_STATUSES = {502, 503, 504}


class PortalError(Exception):
    def __init__(self, status: int, message: str, code: str = "error", fields: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}

    def __str__(self) -> str:
        lines = [f"{self.status} {self.message}"]
        lines += [f"  {name}: {'; '.join(map(str, messages))}" for name, messages in self.fields.items()]
        return "\n".join(lines)


def error_from(response: requests.Response) -> PortalError:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    fields = error.get("fields") or {}
    fields = {k: v if isinstance(v, list) else [v] for k, v in fields.items()} if isinstance(fields, dict) else {}
    message = error.get("message") or response.reason or "request failed"
    return PortalError(response.status_code, message, error.get("code", "error"), fields)


class PortalClient:
    """`base_url` is the portal's root (PORTAL_URL); `token` a personal or trial token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 60, attempts: int = 6) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, ok: Iterable[int] = (200, 201), **kwargs: Any) -> requests.Response:
        """Send, retrying transient failures; `PortalError` for any answer not in `ok`.

        A body given as a file is rewound before each retry."""
        kwargs.setdefault("timeout", self.timeout)
        body = kwargs.get("data")
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            if hasattr(body, "seek"):
                body.seek(0)
            try:
                response = self.session.request(method, self.url(path), **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if attempt == self.attempts:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or attempt == self.attempts:
                    if response.status_code not in tuple(ok):
                        raise error_from(response)
                    return response
            time.sleep(delay)
            delay = min(delay * 2, 30)
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, body: dict | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body or {}, **kwargs).json()
