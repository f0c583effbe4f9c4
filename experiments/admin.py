from django.contrib import admin

from .models import Dataset, Experiment, Trial


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "status", "created_at", "finished_at"]
    list_filter = ["status", "team"]
    readonly_fields = ["study_name", "created_at", "started_at", "finished_at", "finalised_at"]


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ["experiment", "number", "attempt", "state", "value", "finished_at"]
    list_filter = ["state"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "format", "size_bytes", "created_at"]
    list_filter = ["team"]
    readonly_fields = ["path", "size_bytes", "format", "compressed", "columns", "created_at"]
