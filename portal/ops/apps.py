from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "portal.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.conf import settings

        import compute

        from . import celery_metrics, task_context  # noqa: F401  (connect Celery signal handlers)

        # Compute backends read their configuration (AWS_BATCH_JOB_QUEUE, KUBERNETES_NAMESPACE…)
        # from the portal's settings rather than straight from the environment.
        compute.use_settings(lambda name: getattr(settings, name, None))
