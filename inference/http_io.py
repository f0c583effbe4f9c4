"""Reading request bodies and writing JSON responses (strict JSON: no NaN, null for a missing number)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

from .errors import BadRequest


def json_of(raw: bytes, what: str = "the request body") -> dict[str, Any]:
    if not raw:
        raise BadRequest(f"{what} is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest(f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest(f"{what} nests too deeply") from None
    if not isinstance(body, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return body


def json_body() -> dict[str, Any]:
    """The request's JSON object (413 past the size limit, 400 for anything but a JSON object)."""
    _refuse_compression()
    return json_of(request.get_data(cache=False))


def _refuse_compression() -> None:
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in {"", "identity"}:
        raise BadRequest(f"Content-Encoding {encoding} is not accepted; send the body uncompressed")


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, allow_nan=False, separators=(",", ":")).encode()


def response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json", headers=headers)
