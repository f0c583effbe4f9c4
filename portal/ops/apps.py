from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "portal.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from . import celery_metrics, task_context  # noqa: F401  (connect Celery signal handlers)
