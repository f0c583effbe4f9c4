from django import forms

from portal.teams.models import ApiToken


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'laptop CLI'.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.WRITE)
    expires_at = forms.DateTimeField(
        required=False,
        help_text="Optional, UTC.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
