"""The Celery app: configured from Django settings (`CELERY_*`), tasks discovered in every app."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.development")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
WORK_QUEUES = ("default", "ingest", "screening", "hpo", "deploy")
# One direct exchange per queue, so a task routed to one queue never lands in another.
app.conf.task_queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in WORK_QUEUES]
app.conf.task_default_exchange = "default"
app.conf.task_default_routing_key = "default"
app.autodiscover_tasks()
