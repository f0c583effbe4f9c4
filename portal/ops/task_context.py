"""Carry the request id from the web request into the tasks it queues, so their logs line up."""

from __future__ import annotations

from celery import signals

from .request_id import bind_request_id, clear_request_id, current_request_id

HEADER = "portal_request_id"


@signals.before_task_publish.connect
def _attach_request_id(headers=None, **_):
    request_id = current_request_id()
    if headers is not None and request_id != "-":
        headers.setdefault(HEADER, request_id)


@signals.task_prerun.connect
def _adopt_request_id(task=None, **_):
    incoming = getattr(task.request, HEADER, None) if task is not None else None
    if incoming:
        bind_request_id(incoming)
    else:
        clear_request_id()


@signals.task_postrun.connect
def _forget_request_id(**_):
    clear_request_id()
