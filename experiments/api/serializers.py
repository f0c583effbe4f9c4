"""Input and output serializers of the experiment and trial endpoints."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.scoping import TeamField

from .. import selectors
from ..models import Experiment, Trial


class ExperimentInputSerializer(serializers.Serializer):
    team = TeamField()
    spec = serializers.JSONField(required=False, help_text="The experiment spec as a JSON object.")
    spec_yaml = serializers.CharField(
        required=False, trim_whitespace=False, help_text="The spec as YAML (or JSON) text, instead of `spec`."
    )

    def validate(self, attrs):
        if ("spec" in attrs) == ("spec_yaml" in attrs):
            raise serializers.ValidationError(
                {"spec": ["Give exactly one of 'spec' (an object) or 'spec_yaml' (text)."]}
            )
        return attrs


class TrialSerializer(serializers.ModelSerializer):
    retry_of = serializers.IntegerField(source="retry_of.number", read_only=True, allow_null=True, default=None)
    reused_from = serializers.IntegerField(
        source="reused_from.number", read_only=True, allow_null=True, default=None,
        help_text="The number of the complete trial whose result this one reused (same parameters; no job ran).",
    )  # fmt: skip

    class Meta:
        model = Trial
        fields = [
            "id", "number", "attempt", "retry_of", "reused_from", "state", "reason", "params", "values", "metrics",
            "last_step", "last_value", "backend", "package_path", "log_path",
            "created_at", "submitted_at", "started_at", "heartbeat_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class ExperimentSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    progress = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Experiment
        fields = [
            "id", "team", "name", "description", "status", "status_reason", "progress", "spec", "summary",
            "registration", "created_by", "created_at", "started_at", "deadline", "finished_at", "finalised_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "trials": {"type": "object", "additionalProperties": {"type": "integer"}},
                "max_trials": {"type": "integer", "nullable": True},
                "max_time_seconds": {"type": "integer", "nullable": True},
                "max_failed_trials": {"type": "integer", "nullable": True},
                "elapsed_seconds": {"type": "number", "nullable": True},
                "best": {"type": "object", "nullable": True},
            },
        }
    )
    def get_progress(self, experiment) -> dict:
        return selectors.progress(experiment)

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_summary(self, experiment) -> dict:
        return selectors.summary_files(experiment)


class TrialJobSerializer(serializers.Serializer):
    trial = serializers.IntegerField()
    experiment = serializers.IntegerField()
    number = serializers.IntegerField()
    attempt = serializers.IntegerField()
    params = serializers.DictField()
    spec = serializers.DictField()
    objectives = serializers.ListField(child=serializers.DictField())
    heartbeat_seconds = serializers.IntegerField()
    timeout_seconds = serializers.IntegerField()
    max_package_bytes = serializers.IntegerField()
    urls = serializers.DictField(child=serializers.URLField())


class ReportInputSerializer(serializers.Serializer):
    step = serializers.IntegerField(min_value=0)
    value = serializers.FloatField()


class PruneSerializer(serializers.Serializer):
    prune = serializers.BooleanField()


class StopSerializer(serializers.Serializer):
    stop = serializers.BooleanField()


class CompleteInputSerializer(serializers.Serializer):
    metrics = serializers.DictField(help_text="Metric name → number; the objective metrics are required.")


class FailInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000, allow_blank=True, default="")


class TrialStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = ["id", "number", "attempt", "state", "reason", "values", "package_path"]
        read_only_fields = fields
