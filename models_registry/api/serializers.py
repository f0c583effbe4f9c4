from django.conf import settings
from rest_framework import serializers

from portal.api.scoping import TeamField

from ..models import AliasEvent, ModelAlias, ModelVersion, RegisteredModel, Task


class ModelAliasSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.version")

    class Meta:
        model = ModelAlias
        fields = ["name", "version", "updated_at"]


class RegisteredModelSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug", read_only=True)
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)
    version_count = serializers.IntegerField(read_only=True)
    aliases = ModelAliasSerializer(many=True, read_only=True)
    archived = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "id", "team", "name", "description", "task", "target_name", "target_units",
            "latest_version", "version_count", "aliases", "created_at", "archived",
        ]  # fmt: skip
        read_only_fields = fields

    def get_archived(self, model) -> bool:
        return model.archived_at is not None


class RegisteredModelInputSerializer(serializers.Serializer):
    team = TeamField()
    name = serializers.RegexField(r"^[a-z0-9][a-z0-9._-]{0,99}$", max_length=100)
    task = serializers.ChoiceField(choices=Task.choices)
    target_name = serializers.CharField(max_length=100)
    target_units = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")


class RegisteredModelUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    archived = serializers.BooleanField(required=False)


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    aliases = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "model", "version", "status", "description", "flavour", "featuriser", "metrics", "params",
            "training_data_fingerprint", "lineage", "aliases", "created_by", "created_at", "package_sha256",
        ]  # fmt: skip
        read_only_fields = fields


class ModelVersionDetailSerializer(ModelVersionSerializer):
    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "manifest"]
        read_only_fields = fields


class ModelVersionInputSerializer(serializers.Serializer):
    package = serializers.FileField(required=False, help_text="A package archive (.tar.gz), multipart upload.")
    location = serializers.CharField(
        required=False, help_text="Or: the key of a package archive in the portal's storage, inside your team's area."
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if bool(attrs.get("package")) == bool(attrs.get("location")):
            raise serializers.ValidationError("Give exactly one of 'package' (an upload) or 'location'.")
        return attrs


class ModelVersionUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ModelVersion.Status.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class AliasInputSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class AliasEventSerializer(serializers.ModelSerializer):
    from_version = serializers.IntegerField(source="from_version.version", default=None)
    to_version = serializers.IntegerField(source="to_version.version", default=None)
    moved_by = serializers.CharField(source="moved_by.username", default=None)

    class Meta:
        model = AliasEvent
        fields = ["alias", "from_version", "to_version", "moved_by", "moved_at"]


class PredictInputSerializer(serializers.Serializer):
    smiles = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=2000, trim_whitespace=True),
        allow_empty=False,
        help_text="Up to PREDICT_MAX_SMILES SMILES strings (1,000 by default).",
    )

    def validate_smiles(self, value):
        limit = settings.PREDICT_MAX_SMILES
        if len(value) > limit:
            raise serializers.ValidationError(
                f"{len(value)} SMILES given; at most {limit} per request. Screen larger sets as a campaign."
            )
        return value


class PredictionSerializer(serializers.Serializer):
    smiles = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    uncertainty = serializers.FloatField(allow_null=True)
    probabilities = serializers.DictField(child=serializers.FloatField(), allow_null=True)
    error = serializers.CharField(allow_null=True)


class PredictOutputSerializer(serializers.Serializer):
    model = serializers.CharField()
    team = serializers.CharField()
    version = serializers.IntegerField()
    requested = serializers.CharField(help_text="The version number or alias asked for.")
    task = serializers.CharField()
    target = serializers.DictField()
    predictions = PredictionSerializer(many=True)
