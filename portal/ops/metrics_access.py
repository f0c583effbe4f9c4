"""Who may read /metrics: a caller from an allowed network, or one presenting `METRICS_TOKEN`.

`METRICS_ALLOWED_NETWORKS` (default: this host only) is matched against the connecting address,
which behind a proxy is the proxy's: never list a network a proxy for outside traffic sits in, and
use the token there instead (`Authorization: Bearer <METRICS_TOKEN>`, as Prometheus'
`authorization` scrape option sends it).
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _bearer(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.METRICS_ALLOWED_NETWORKS)


def may_read_metrics(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(_bearer(request).encode(), token.encode()):
        return True
    return _address_allowed(request.META.get("REMOTE_ADDR", ""))
