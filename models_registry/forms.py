from django import forms
from django.conf import settings


class TryItForm(forms.Form):
    smiles = forms.CharField(
        label="SMILES",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "One SMILES per line, e.g.\nCCO\nc1ccccc1O"}),
        help_text="One SMILES per line (an optional name after a space is ignored).",
    )

    def clean_smiles(self) -> list[str]:
        lines = [line.split()[0] for line in self.cleaned_data["smiles"].splitlines() if line.strip()]
        if not lines:
            raise forms.ValidationError("Enter at least one SMILES.")
        if len(lines) > settings.PREDICT_MAX_SMILES:
            raise forms.ValidationError(f"At most {settings.PREDICT_MAX_SMILES} SMILES at a time.")
        return lines
