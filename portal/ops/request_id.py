"""A request id follows each request through its log lines (and into the tasks it queues)."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_VALID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


def current_request_id() -> str:
    return _request_id.get()


def bind_request_id(incoming: str | None) -> str:
    """Adopt a well-formed id from the proxy, otherwise make one; never trust arbitrary text."""
    request_id = incoming if incoming and _VALID.match(incoming) else uuid.uuid4().hex
    _request_id.set(request_id)
    return request_id


def clear_request_id() -> None:
    _request_id.set("-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True
