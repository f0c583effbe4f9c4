from django import forms

from portal.teams.selectors import teams_for_user

from .preview import MAX_PROPERTY_COLUMNS


class ColumnListField(forms.Field):
    """Column names sent as repeated values (the upload page's mapping step fills them in)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        names = list(dict.fromkeys(str(name).strip() for name in value if str(name).strip()))
        if len(names) > MAX_PROPERTY_COLUMNS:
            raise forms.ValidationError(f"At most {MAX_PROPERTY_COLUMNS} property columns can be chosen.")
        if any(len(name) > 200 for name in names):
            raise forms.ValidationError("A column name is longer than 200 characters.")
        return names


class LibraryUploadForm(forms.Form):
    team = forms.ModelChoiceField(queryset=None, to_field_name="slug", empty_label=None)
    name = forms.CharField(max_length=200)
    file = forms.FileField(help_text="SMILES, CSV/TSV or SDF, optionally gzipped.")
    smiles_column = forms.CharField(max_length=200, required=False, help_text="CSV/TSV only; detected when empty.")
    id_column = forms.CharField(
        max_length=200, required=False, help_text="Optional: the column (or SDF field) holding compound ids."
    )
    # Set by the mapping step: no id column at all, and which columns to keep (all when none are given).
    no_id_column = forms.BooleanField(required=False, widget=forms.HiddenInput)
    properties = ColumnListField(required=False)
    keep_duplicates = forms.BooleanField(
        required=False, help_text="Keep repeated structures (they are counted anyway)."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for_user(user)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("no_id_column") and data.get("id_column"):
            self.add_error("id_column", "Choose an id column or none, not both.")
        return data
