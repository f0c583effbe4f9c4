"""Production: every secret and service location must come from the environment; HTTPS only."""

from .base import *  # noqa: F403
from .environment import boolean, integer, required_str

# Fail at start-up, not at the first request, when a service is not configured.
REDIS_URL = required_str("REDIS_URL")

SECURE_SSL_REDIRECT = boolean("SECURE_SSL_REDIRECT", True)
# Probes and trial jobs inside the cluster call the pods over plain HTTP (TRIAL_PORTAL_URL, e.g.
# http://portal-web); requests from outside reach them through the TLS-terminating ingress.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$", r"^api/trials/"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = integer("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = boolean("SECURE_HSTS_PRELOAD", True)
