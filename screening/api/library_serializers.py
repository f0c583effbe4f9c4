from rest_framework import serializers

from portal.api.scoping import TeamField

from ..models import Library
from ..preview import HEAD_BYTES, MAX_PROPERTY_COLUMNS, MAX_REQUEST_BYTES


class LibrarySerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug", read_only=True)
    progress = serializers.SerializerMethodField()
    shards = serializers.IntegerField(source="shards.count", read_only=True)

    class Meta:
        model = Library
        fields = [
            "id", "team", "name", "description", "filename", "format", "status", "error", "progress",
            "upload_bytes", "records", "valid", "invalid", "duplicates", "warnings", "compounds", "shards",
            "error_summary", "warning_summary", "options", "attempts", "created_at", "started_at",
            "heartbeat_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_progress(self, library) -> float:
        """Fraction of the uploaded file read (its bytes as uploaded, gzipped or not; 1.0 once ready)."""
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
    id_column = serializers.CharField(
        required=False, max_length=200, help_text="The column (or SDF field) holding compound ids; else detected."
    )
    no_id_column = serializers.BooleanField(
        default=False,
        help_text="Read no compound ids: a column that would be detected as the id stays a property "
        "(SDF: the title line is not used as the name).",
    )
    properties = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=MAX_PROPERTY_COLUMNS,
        help_text="Columns (or SDF fields) to keep as properties, one value per column; all are kept when absent. "
        "A name the file does not have fails the ingest with a message naming it.",
    )
    keep_duplicates = serializers.BooleanField(default=False)
    shard_rows = serializers.IntegerField(
        required=False,
        min_value=100,
        help_text="Compounds per shard (at most LIBRARY_SHARD_ROWS): more shards, more parallel jobs.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("no_id_column") and attrs.get("id_column"):
            raise serializers.ValidationError({"id_column": ["Give an id column or no_id_column, not both."]})
        if "properties" in attrs:
            attrs["properties"] = list(dict.fromkeys(name.strip() for name in attrs["properties"] if name.strip()))
        return attrs


class LibraryPreviewInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=f"The first bytes of the file (the page sends {HEAD_BYTES // 1024} KiB; at most "
        f"{MAX_REQUEST_BYTES // 1024} KiB). A gzipped file's head is a truncated gzip stream, which is fine."
    )
    complete = serializers.BooleanField(
        default=False, help_text="The bytes are the whole file: its last line is kept even without a final newline."
    )
    format = serializers.ChoiceField(
        choices=["smiles", "csv", "tsv", "sdf"],
        required=False,
        help_text="Skip detection; needed when the file's name and content disagree on the format.",
    )


class PreviewRowSerializer(serializers.Serializer):
    record = serializers.IntegerField(help_text="Record number, from 1.")
    line = serializers.IntegerField(help_text="Line where the record starts.")
    name = serializers.CharField(allow_null=True, help_text="The compound id or name (SDF: title or id field).")
    smiles = serializers.CharField(allow_null=True, help_text="The SMILES drawn (SDF: written from the molfile).")
    values = serializers.ListField(child=serializers.CharField(), help_text="Values in `columns` order, truncated.")
    image = serializers.CharField(allow_null=True, help_text="The structure as a data:image/svg+xml URI.")
    error = serializers.CharField(allow_null=True, help_text="Why the record cannot be read or drawn.")


class LibraryPreviewSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["smiles", "csv", "tsv", "sdf"])
    compressed = serializers.BooleanField(help_text="The file is gzipped.")
    complete = serializers.BooleanField(help_text="The bytes sent held the whole file.")
    mapping = serializers.BooleanField(help_text="CSV/TSV: the SMILES, id and property columns can be chosen.")
    header = serializers.BooleanField(help_text="A header line names the columns (else column_1, column_2, ...).")
    columns = serializers.ListField(child=serializers.CharField(), help_text="Column names (SDF: data fields).")
    smiles_column = serializers.CharField(allow_null=True, help_text="The SMILES column used (guessed or chosen).")
    id_column = serializers.CharField(allow_null=True, help_text="The id column guessed, if any.")
    rows = PreviewRowSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
