"""Request bodies on a production-like stack: real gunicorn, and Debian's nginx in front of it with
docker/nginx.conf (only its ports and paths changed). Oversized declared lengths are refused before
a byte of the body is read, and slow bodies cannot starve other requests."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.processes import database_url, gunicorn

from .stack import nginx

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIX_GIB = 6 * 1024**3
IDLE_SECONDS = 2
THREADS = 4


@pytest.fixture
def web(world, tmp_path) -> Iterator[str]:
    from django.db import connection

    env = {
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "STORAGE_URL": str(tmp_path / "objects"),
        "REQUEST_BODY_IDLE_SECONDS": str(IDLE_SECONDS),
        "GUNICORN_THREADS": str(THREADS),
    }
    with gunicorn(env=env, log=tmp_path / "web.log") as url:
        yield url


@pytest.fixture
def proxy(web, tmp_path) -> Iterator[str]:
    with nginx(web, tmp_path / "nginx") as url:
        yield url


def open_request(url: str, head: str, body: bytes = b"") -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    return sock


def read_response(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and (Content-Length) body of the answer, or TimeoutError."""
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    headers = {name.lower(): value for name, value in headers.items()}
    chunked = headers.get("transfer-encoding") == "chunked"
    length = int(headers.get("content-length", "0"))
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while (b"0\r\n\r\n" not in body) if chunked else (len(body) < length):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    if chunked:
        decoded, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            if int(size, 16) == 0:
                break
            decoded, rest = decoded + rest[: int(size, 16)], rest[int(size, 16) + 2 :]
        body = decoded
    return int(lines[0].split()[1]), headers, body


def upload_head(url: str, token: str, length: int | None) -> str:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST /api/libraries/ HTTP/1.1\nHost: {urlsplit(url).netloc}\nAuthorization: Bearer {token}\n"
        f"Content-Type: multipart/form-data; boundary=xyz\n{size}\n"
    )


@pytest.mark.parametrize("through", ["gunicorn", "nginx"])
def test_an_oversized_declared_length_is_refused_at_once(request, world, through):
    url = request.getfixturevalue("web" if through == "gunicorn" else "proxy")
    started = time.monotonic()
    with contextlib.closing(open_request(url, upload_head(url, world.tokens["amy"], SIX_GIB))) as sock:
        status, _, body = read_response(sock, timeout=10)
    assert time.monotonic() - started < 5
    assert status == 413
    error = json.loads(body)["error"]
    assert error["code"] == "too_large"
    assert "5,369,757,696 bytes" in error["message"]
    assert error["request_id"]


def test_a_page_gets_a_page_for_an_oversized_body(web):
    head = upload_head(web, "x", SIX_GIB).replace("/api/libraries/", "/libraries/")
    with contextlib.closing(open_request(web, head)) as sock:
        status, _, body = read_response(sock, timeout=10)
    assert status == 413
    assert b"413 \xc2\xb7 Too large" in body


def test_a_body_without_a_length_is_refused(world, web):
    with contextlib.closing(open_request(web, upload_head(web, world.tokens["amy"], None), b"5\r\nhello\r\n")) as sock:
        status, _, body = read_response(sock, timeout=10)
    assert status == 411
    assert json.loads(body)["error"]["code"] == "length_required"


def test_chunked_uploads_through_nginx_reach_the_portal_with_a_length(world, proxy):
    """nginx reads the whole body first, so the portal gets a Content-Length and can read it."""
    def body() -> Iterator[bytes]:
        yield b"--xyz\r\nContent-Disposition: form-data; name=\"team\"\r\n\r\nalpha\r\n"
        yield b"--xyz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nchunked\r\n"
        yield b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.smi\"\r\n\r\nCCO ethanol\n\r\n"
        yield b"--xyz--\r\n"

    response = requests.post(
        f"{proxy}/api/libraries/", data=body(), timeout=30,
        headers={"Authorization": f"Bearer {world.tokens['amy']}", "Content-Type": "multipart/form-data; boundary=xyz"},
    )  # fmt: skip
    assert response.status_code == 201, response.text


def test_a_body_longer_than_declared_is_read_only_as_far_as_declared(world, web):
    """The file part runs on past the declared length: the portal reads up to it, finds the form cut
    short, and answers at once without waiting for (or storing) the rest."""
    head = (
        b'--xyz\r\nContent-Disposition: form-data; name="team"\r\n\r\nalpha\r\n'
        b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nlong\r\n'
    )
    file_part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.smi"\r\n\r\n' + b"CCO\n" * 2000
    declared = len(head) + 200
    sock = open_request(web, upload_head(web, world.tokens["amy"], declared), head + file_part)
    with contextlib.closing(sock):
        status, _, body = read_response(sock, timeout=10)
    assert status == 400, body
    from screening.models import Library

    assert not Library.objects.filter(name="long").exists()


def slow_bodies(url: str, token: str, count: int) -> list[socket.socket]:
    """`count` uploads declaring 1 MiB (within the limit) that send a few bytes and then stop."""
    return [open_request(url, upload_head(url, token, 1024 * 1024), b"--xyz\r\n") for _ in range(count)]


def test_slow_bodies_are_cut_off_and_do_not_starve_gunicorn(world, web):
    slow = slow_bodies(web, world.tokens["amy"], 20)
    try:
        started = time.monotonic()
        me = requests.get(f"{web}/api/me/", headers={"Authorization": f"Bearer {world.tokens['alice']}"}, timeout=30)
        waited = time.monotonic() - started
        assert me.status_code == 200
        # At worst every thread serves a slow body until it has been idle IDLE_SECONDS.
        assert waited < (20 / THREADS + 2) * IDLE_SECONDS, f"/api/me/ waited {waited:.1f} s"
        answers = [read_response(sock, timeout=30) for sock in slow]
    finally:
        for sock in slow:
            sock.close()
    assert {status for status, _, _ in answers} == {408}
    assert json.loads(answers[0][2])["error"]["code"] == "request_timeout"


def test_slow_bodies_through_nginx_never_reach_gunicorn(world, proxy):
    headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
    assert requests.get(f"{proxy}/api/me/", headers=headers, timeout=30).status_code == 200  # warm
    slow = slow_bodies(proxy, world.tokens["amy"], 20)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        me = requests.get(f"{proxy}/api/me/", headers=headers, timeout=30)
        assert me.status_code == 200
        # Had they reached gunicorn, its THREADS threads would each wait IDLE_SECONDS per slow body.
        assert time.monotonic() - started < 20 / THREADS * IDLE_SECONDS / 2, "a request waited behind slow uploads"
    finally:
        for sock in slow:
            sock.close()
