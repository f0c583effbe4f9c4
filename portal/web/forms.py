from django import forms

from portal.teams.models import ApiToken
from portal.teams.services import check_token_expiry


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'laptop CLI'.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.WRITE)
    expires_at = forms.DateTimeField(
        required=False,
        help_text="Optional, UTC.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        check_token_expiry(expires_at)
        return expires_at
