"""The WSGI application: both protocols, probes, metrics, the bearer-token check, request size and
time limits, JSON errors and one JSON log line per request. Models load in the background when the
app is created; the probes say when they are ready."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from dataclasses import dataclass

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import metrics, openinference, tfserving
from .config import Settings, settings_from_env
from .errors import ApiError, Unauthorized
from .http_io import response
from .repository import ModelRepository, ServedModel

log = logging.getLogger("inference.requests")

# Probes and metrics answer without the token: kubelets and Prometheus scrape them.
OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/metrics"})
REQUEST_ID = "X-Request-ID"


@dataclass
class InferenceServer:
    settings: Settings
    repository: ModelRepository


def _record_load(model: ServedModel) -> None:
    labels = {"model": model.name, "version": model.version}
    metrics.MODEL_READY.labels(**labels).set(1 if model.state == "AVAILABLE" else 0)
    if model.load_seconds is not None:
        metrics.LOAD_SECONDS.labels(**labels).set(model.load_seconds)


def create_app(settings: Settings | None = None, *, load: bool = True) -> Flask:
    """The app for `settings` (from the environment by default); `load` starts loading the models."""
    settings = settings or settings_from_env()
    repository = ModelRepository(settings.models)
    app = Flask("inference")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.extensions["inference"] = InferenceServer(settings, repository)
    for model in repository.models:
        metrics.MODEL_READY.labels(model=model.name, version=model.version).set(0)
    app.register_blueprint(tfserving.blueprint)
    app.register_blueprint(openinference.blueprint)
    _install_hooks(app, settings)

    @app.get("/metrics")
    def metrics_page():
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    if load:
        repository.start_loading(settings, on_loaded=_record_load)
    return app


def _protocol(path: str) -> str:
    if path.startswith("/v1/"):
        return "v1"
    if path.startswith("/v2"):
        return "v2"
    return "other"


def _install_hooks(app: Flask, settings: Settings) -> None:
    served = set(app.extensions["inference"].repository.names())

    @app.before_request
    def start() -> None:
        g.started = time.monotonic()
        g.deadline = g.started + settings.request_timeout_seconds
        g.model = None
        g.request_id = request.headers.get(REQUEST_ID) or uuid.uuid4().hex
        if settings.token and request.path not in OPEN_PATHS:
            supplied = request.headers.get("Authorization", "")
            scheme, _, token = supplied.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.token.encode()):
                raise Unauthorized("a valid bearer token is required (Authorization: Bearer <token>)")

    @app.after_request
    def finish(resp: Response) -> Response:
        elapsed = time.monotonic() - g.get("started", time.monotonic())
        model = g.get("model")
        model = model if model in served else ("unknown" if model else "")
        labels = {"model": model, "protocol": _protocol(request.path), "status": str(resp.status_code)}
        if request.path != "/metrics":
            metrics.REQUESTS.labels(**labels).inc()
            metrics.LATENCY.labels(**labels).observe(elapsed)
        resp.headers[REQUEST_ID] = g.get("request_id", "")
        if resp.status_code == 401:
            resp.headers["WWW-Authenticate"] = "Bearer"
        if request.path not in OPEN_PATHS or resp.status_code >= 400:
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                resp.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": resp.status_code,
                    "duration_ms": round(elapsed * 1000, 3),
                    "model": g.get("model"),
                    "protocol": labels["protocol"],
                    "request_id": g.get("request_id"),
                    "bytes_in": request.content_length or 0,
                },
            )
        return resp

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return response({"error": exc.message}, status=exc.status)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge):
        limit = settings.max_request_bytes
        return response({"error": f"the request body is larger than the limit of {limit:,} bytes"}, status=413)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = {404: f"no such endpoint: {request.method} {request.path}"}.get(exc.code or 500, exc.description)
        return response({"error": message}, status=exc.code or 500)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        log.exception("unhandled error in %s %s", request.method, request.path)
        return response({"error": f"internal error: {type(exc).__name__}"}, status=500)
