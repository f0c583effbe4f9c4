from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.scoping import TeamField

from ..campaigns import executors
from ..campaigns.selectors import campaign_progress
from ..models import Campaign, CampaignModel, CampaignShard, Hit


class CampaignModelSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)
    version_id = serializers.IntegerField(source="version.pk", read_only=True)
    label = serializers.CharField(read_only=True)

    class Meta:
        model = CampaignModel
        fields = ["position", "model", "version", "version_id", "requested", "direction", "label"]
        read_only_fields = fields


class CampaignSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug", read_only=True)
    library = serializers.IntegerField(source="library_id", read_only=True)
    models = CampaignModelSerializer(many=True, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id", "team", "name", "library", "status", "executor", "models", "filters", "top_k", "error",
            "progress", "compounds", "scored", "filtered", "failed", "filter_reasons", "summary",
            "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "compounds": {"type": "integer"},
                "processed": {"type": "integer"},
                "fraction": {"type": "number"},
                "shards": {"type": "object", "additionalProperties": {"type": "integer"}},
                "stuck_shards": {
                    "type": "integer",
                    "description": "Pending shards whose task could not be sent, or was sent over "
                    "CAMPAIGN_SHARD_RESEND_SECONDS ago without starting: retry/ sends them again now.",
                },
                "compounds_per_second": {"type": "number", "nullable": True},
                "eta_seconds": {"type": "integer", "nullable": True},
            },
        }
    )
    def get_progress(self, campaign) -> dict:
        return campaign_progress(campaign)


class ModelChoiceSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=100, help_text="A registered model's name.")
    version = serializers.CharField(
        max_length=50, default="latest", help_text="A version number, `latest`, or an alias such as `champion`."
    )
    direction = serializers.ChoiceField(
        choices=CampaignModel.Direction.choices, default=CampaignModel.Direction.MAXIMISE
    )


class CampaignInputSerializer(serializers.Serializer):
    team = TeamField()
    name = serializers.CharField(max_length=200)
    library = serializers.IntegerField(help_text="A ready library of the same team.")
    models = ModelChoiceSerializer(many=True, help_text="The first model ranks the hits.")
    filters = serializers.JSONField(
        required=False,
        default=dict,
        help_text='e.g. {"exclude_alerts": ["pains", "brenk"], "properties": {"mw": {"max": 500}}, '
        '"lipinski": true, "substructure": "c1ccncc1"}',
    )
    top_k = serializers.IntegerField(default=1000, min_value=0)
    executor = serializers.ChoiceField(
        choices=Campaign.Executor.choices,
        default=Campaign.Executor.CELERY,
        help_text="Where the shard jobs run; batch and kubernetes only where they are configured.",
    )

    def validate_executor(self, value: str) -> str:
        if reason := executors.unavailable_reason(value):
            raise serializers.ValidationError(reason)
        return value


class CampaignShardSerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignShard
        fields = [
            "index", "status", "attempts", "compounds", "processed", "scored", "filtered", "failed", "error",
            "heartbeat_at", "dispatched_at", "dispatches", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class HitSerializer(serializers.ModelSerializer):
    class Meta:
        model = Hit
        fields = ["rank", "row", "name", "smiles", "inchikey", "score", "scores", "alerts", "properties"]
        read_only_fields = fields
