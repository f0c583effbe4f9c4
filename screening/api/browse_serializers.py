"""Shapes of the library browsing API: a page of compounds and the property distributions."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..campaigns.filters import PROPERTIES

DescriptorsSerializer = type(
    "DescriptorsSerializer",
    (serializers.Serializer,),
    {key: serializers.FloatField(help_text=label) for key, (label, _) in PROPERTIES.items()},
)


class CompoundSerializer(serializers.Serializer):
    shard = serializers.IntegerField(help_text="The shard holding the compound.")
    row = serializers.IntegerField(help_text="The compound's row in the library, from 0.")
    record = serializers.IntegerField(help_text="Its record number in the uploaded file, from 1.")
    name = serializers.CharField(allow_null=True)
    smiles = serializers.CharField(help_text="Standardised, canonical SMILES.")
    inchikey = serializers.CharField(allow_null=True)
    properties = serializers.DictField(child=serializers.CharField(), help_text="The file's other columns, as read.")
    descriptors = DescriptorsSerializer(allow_null=True, help_text="Computed from the SMILES.")
    image = serializers.CharField(required=False, help_text="With `depict=true`: an SVG data URI of the structure.")


class CompoundPageSerializer(serializers.Serializer):
    results = CompoundSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="Pass as `after` for the next page (a search continues where it stopped); "
        "null when the library has nothing more."
    )  # fmt: skip
    next_url = serializers.CharField(allow_null=True)
    scanned = serializers.IntegerField(help_text="Compounds read for this page (a search: tested against it).")
    last_read = serializers.CharField(allow_null=True, help_text="The last compound read, as `<shard>:<row>`.")
    substructure = serializers.CharField(allow_blank=True)


class HistogramSerializer(serializers.Serializer):
    edges = serializers.ListField(child=serializers.FloatField(), help_text="Bin i is [edges[i], edges[i+1]).")
    counts = serializers.ListField(child=serializers.IntegerField())
    below = serializers.IntegerField(help_text="Values below the first edge (a long tail cut off).")
    above = serializers.IntegerField(help_text="Values above the last edge.")
    exact = serializers.BooleanField(
        help_text="Integers counted one by one; else each value's bin is within 0.5 % of the value."
    )


class DistributionSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="`mw`, `clogp`, … or `property:<column>`.")
    label = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    source = serializers.ChoiceField(choices=["descriptor", "property"])
    count = serializers.IntegerField(help_text="Compounds with a value.")
    missing = serializers.IntegerField(help_text="Compounds without one (count + non_numeric + missing = compounds).")
    non_numeric = serializers.IntegerField(required=False, help_text="Property columns: values that are not numbers.")
    mean = serializers.FloatField(required=False)
    std = serializers.FloatField(required=False)
    min = serializers.FloatField(required=False)
    max = serializers.FloatField(required=False)
    p5 = serializers.FloatField(required=False)
    p25 = serializers.FloatField(required=False)
    p50 = serializers.FloatField(required=False)
    p75 = serializers.FloatField(required=False)
    p95 = serializers.FloatField(required=False)
    histogram = HistogramSerializer(allow_null=True)


class TextColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    numeric = serializers.IntegerField()
    non_numeric = serializers.IntegerField()
    missing = serializers.IntegerField()


@extend_schema_field(
    {"type": "string", "enum": ["ready", "failed", "computing"], "description": "computing: answered with 202."}
)
class StatusField(serializers.CharField):
    pass


class LibraryStatsSerializer(serializers.Serializer):
    status = StatusField()
    compounds = serializers.IntegerField(required=False)
    computed_at = serializers.DateTimeField(required=False)
    distributions = DistributionSerializer(many=True, required=False)
    text_columns = TextColumnSerializer(
        many=True, required=False, help_text="Property columns whose values are mostly not numbers."
    )
    columns_not_summarised = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Property columns beyond the first 50."
    )
    error = serializers.CharField(required=False, help_text="failed: why.")
    shards_done = serializers.IntegerField(required=False, help_text="computing: shards summarised so far.")
    shards = serializers.IntegerField(required=False, help_text="computing: shards in the library.")
