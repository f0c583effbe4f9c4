"""The new-campaign form: a library, up to three models (the first ranks the hits), filters, top-K, and
where the shard jobs run (only the executors configured here)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from models_registry.selectors import models_for_user
from portal.teams.selectors import scoped

from ..models import Campaign, CampaignModel, Library
from . import executors

MODEL_SLOTS = 3


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    library = forms.ModelChoiceField(queryset=Library.objects.none(), help_text="Ready libraries of your teams.")
    top_k = forms.IntegerField(
        label="Top-K hits kept", initial=1000, min_value=0, help_text="Every compound's scores are kept for download."
    )
    exclude_pains = forms.BooleanField(required=False, label="Exclude PAINS alerts")
    exclude_brenk = forms.BooleanField(required=False, label="Exclude Brenk alerts")
    lipinski = forms.BooleanField(required=False, label="Lipinski's rule of five (at most one violation)")
    mw_min = forms.FloatField(required=False, label="Molecular weight from")
    mw_max = forms.FloatField(required=False, label="Molecular weight up to")
    clogp_max = forms.FloatField(required=False, label="cLogP up to")
    tpsa_max = forms.FloatField(required=False, label="TPSA up to")
    substructure = forms.CharField(required=False, max_length=500, label="Must contain (SMARTS)")
    executor = forms.ChoiceField(
        choices=Campaign.Executor.choices, initial=Campaign.Executor.CELERY, label="Run shard jobs on"
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["top_k"].max_value = settings.CAMPAIGN_MAX_TOP_K
        # Only the executors configured here are offered (a missing one is named, not silently absent).
        usable = executors.usable_executors()
        self.fields["executor"].choices = usable
        missing = [label for value, label in Campaign.Executor.choices if (value, label) not in usable]
        if missing:
            self.fields["executor"].help_text = f"Not configured here: {', '.join(missing)}."
        libraries = scoped(Library.objects.select_related("team"), user).filter(status=Library.Status.READY)
        self.fields["library"].queryset = libraries
        self.fields["library"].label_from_instance = lambda lib: f"{lib.team.name} / {lib.name} ({lib.compounds:,})"
        names = sorted({m.name for m in models_for_user(user)})
        choices = [("", "—")] + [(name, name) for name in names]
        for slot in range(MODEL_SLOTS):
            first = slot == 0
            self.fields[f"model_{slot}"] = forms.ChoiceField(
                choices=choices, required=first, label="Ranking model" if first else f"Model {slot + 1}"
            )
            self.fields[f"version_{slot}"] = forms.CharField(
                initial="latest", required=False, max_length=50, label="Version",
                help_text="A number, latest, or an alias such as champion.",
            )  # fmt: skip
            self.fields[f"direction_{slot}"] = forms.ChoiceField(
                choices=CampaignModel.Direction.choices, initial=CampaignModel.Direction.MAXIMISE, label="Better is"
            )
        self.order_fields(
            ["name", "library"]
            + [f"{kind}_{slot}" for slot in range(MODEL_SLOTS) for kind in ("model", "version", "direction")]
        )

    def model_choices(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {"model": data[f"model_{slot}"], "version": data[f"version_{slot}"] or "latest",
             "direction": data[f"direction_{slot}"]}
            for slot in range(MODEL_SLOTS)
            if data.get(f"model_{slot}")
        ]  # fmt: skip

    def filters(self) -> dict:
        data = self.cleaned_data
        spec: dict = {}
        alerts = [name for name in ("pains", "brenk") if data.get(f"exclude_{name}")]
        if alerts:
            spec["exclude_alerts"] = alerts
        ranges = {
            "mw": {"min": data.get("mw_min"), "max": data.get("mw_max")},
            "clogp": {"max": data.get("clogp_max")},
            "tpsa": {"max": data.get("tpsa_max")},
        }
        properties = {
            name: {k: v for k, v in bounds.items() if v is not None}
            for name, bounds in ranges.items()
            if any(v is not None for v in bounds.values())
        }
        if properties:
            spec["properties"] = properties
        if data.get("lipinski"):
            spec["lipinski"] = True
        if data.get("substructure"):
            spec["substructure"] = data["substructure"].strip()
        return spec
