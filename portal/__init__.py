"""The portal's Django project: settings, URLs, the Celery app and the shell every app shares —
teams and tokens (`teams/`), REST infrastructure (`api/`), pages (`web/`), operations (`ops/`),
queueing work by task name (`queueing`). It imports no app's internals: app URLs are included by
module name. Importing it loads the Celery app so `@shared_task` binds to it."""

from .celery import app as celery_app

__all__ = ("celery_app",)
