"""Input and output serializers of /api/datasets/."""

from __future__ import annotations

from rest_framework import serializers

from portal.api.scoping import TeamField

from ..models import Dataset


class DatasetSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug", read_only=True)
    location = serializers.CharField(read_only=True, help_text="What a spec's `dataset.location` gives.")
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = Dataset
        fields = [
            "id", "team", "name", "location", "path", "size_bytes", "format", "compressed", "smiles_column",
            "columns", "sampled_records", "sampled_invalid", "created_by", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class DatasetInputSerializer(serializers.Serializer):
    team = TeamField()
    file = serializers.FileField(help_text="CSV/TSV, SMILES or SDF, optionally gzipped; at most MAX_UPLOAD_BYTES.")
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="File name to store it as; else the upload's own."
    )
    smiles_column = serializers.CharField(
        required=False, max_length=200, help_text="The SMILES column of a CSV/TSV file; else detected."
    )
