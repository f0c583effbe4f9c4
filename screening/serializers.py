from rest_framework import serializers

from portal.api.scoping import TeamField

from .models import Library


class LibrarySerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug", read_only=True)
    progress = serializers.SerializerMethodField()
    shards = serializers.IntegerField(source="shards.count", read_only=True)

    class Meta:
        model = Library
        fields = [
            "id", "team", "name", "description", "filename", "format", "status", "error", "progress",
            "upload_bytes", "records", "valid", "invalid", "duplicates", "compounds", "shards",
            "error_summary", "options", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_progress(self, library) -> float:
        """Fraction of the upload read (1.0 once ready)."""
        if library.status == Library.Status.READY:
            return 1.0
        return round(min(1.0, library.bytes_read / library.upload_bytes), 4) if library.upload_bytes else 0.0


class LibraryInputSerializer(serializers.Serializer):
    team = TeamField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    file = serializers.FileField(help_text="SMILES, CSV/TSV or SDF, optionally gzipped.")
    format = serializers.ChoiceField(choices=["smiles", "csv", "tsv", "sdf"], required=False)
    smiles_column = serializers.CharField(required=False, max_length=200)
    id_column = serializers.CharField(required=False, max_length=200)
    keep_duplicates = serializers.BooleanField(default=False)
