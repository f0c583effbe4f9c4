from django.contrib import admin

from .models import Experiment, Trial


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "status", "created_at", "finished_at"]
    list_filter = ["status", "team"]
    readonly_fields = ["study_name", "created_at", "started_at", "finished_at", "finalised_at"]


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ["experiment", "number", "attempt", "state", "value", "finished_at"]
    list_filter = ["state"]
