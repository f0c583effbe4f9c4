"""Tasks that prove the task system works end to end."""

import socket

from celery import shared_task
from django.db import connection

from .request_id import current_request_id


@shared_task(name="portal.ops.tasks.ping")
def ping(payload: str = "") -> dict:
    """Answer from a worker, after touching the database it shares with the web process."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"pong": payload, "database": one == 1, "host": socket.gethostname(), "request_id": current_request_id()}
