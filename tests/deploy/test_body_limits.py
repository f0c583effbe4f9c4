"""nginx (docker/nginx.conf) and the portal behind it (gunicorn, portal.web.body_limits) agree on
how large a request body may be and how long it may stall."""

from __future__ import annotations

import re
import runpy

from .limits import default_setting, nginx_directive, nginx_seconds, nginx_size
from .tooling import DOCKER_DIR, REPO

NGINX = (DOCKER_DIR / "nginx.conf").read_text()


def test_nginx_allows_exactly_the_portals_largest_request():
    upload = default_setting("MAX_UPLOAD_BYTES")
    request = default_setting("MAX_REQUEST_BYTES")
    assert upload < request <= upload + 16 * 1024**2, "room for the form around one file of MAX_UPLOAD_BYTES"
    assert nginx_size(nginx_directive(NGINX, "client_max_body_size")) == request


def test_nginx_answers_the_apis_error_shape_with_the_same_numbers():
    (message,) = re.findall(r"return 413 '(.+)';", NGINX)
    assert '"code": "too_large"' in message
    assert f"{default_setting('MAX_REQUEST_BYTES'):,} bytes" in message
    assert f"{default_setting('MAX_UPLOAD_BYTES'):,} bytes" in message


def test_stalled_bodies_time_out_alike_and_never_reach_gunicorn_slowly():
    assert nginx_seconds(nginx_directive(NGINX, "client_body_timeout")) == default_setting("REQUEST_BODY_IDLE_SECONDS")
    assert nginx_directive(NGINX, "proxy_request_buffering") == "on"


def test_gunicorn_serves_other_requests_while_one_reads_a_body():
    config = runpy.run_path(str(REPO / "portal" / "gunicorn.conf.py"))
    assert config["worker_class"] == "gthread"
    assert config["threads"] >= 4
