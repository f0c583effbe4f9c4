"""Liveness and readiness (open to the orchestrator, no sign-in) and Prometheus metrics (allowed
networks or a bearer token: `metrics_access`)."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from .metrics_access import may_read_metrics
from .readiness import run_checks

logger = logging.getLogger(__name__)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; depends on nothing else, so restarts aren't cascaded."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    ready = all(result.ok for result in results)
    if not ready:
        failed = [f"{r.name}: {r.error}" for r in results if not r.ok]
        logger.warning("not ready: %s", "; ".join(failed))
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {
            r.name: {"ok": r.ok, "ms": r.milliseconds, **({"error": r.error} if r.error else {})} for r in results
        },
    }
    return JsonResponse(body, status=200 if ready else 503)


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_read_metrics(request):
        response = HttpResponse("Metrics need METRICS_TOKEN or an address in METRICS_ALLOWED_NETWORKS.\n", status=403)
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    return ExportToDjangoView(request)
