"""The Content-Security-Policy header every page is sent, from one setting.

`CONTENT_SECURITY_POLICY` maps each directive to its sources; pages and their scripts load only
from the portal itself (no inline scripts or styles, no eval), images may also be `data:` URIs
(structures drawn as SVG). A response that sets its own policy keeps it (e.g. a sandboxed summary
plot). Pages that need more (scripts by nonce or hash) change that one setting.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy_header(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.header = policy_header(settings.CONTENT_SECURITY_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header and HEADER not in response:
            response[HEADER] = self.header
        return response
