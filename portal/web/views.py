"""The shell's pages. Views stay thin: read through selectors, write through services."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from experiments import selectors as experiment_selectors
from models_registry import selectors as model_selectors
from portal.teams import selectors, services
from screening import selectors as screening_selectors

from .forms import ApiTokenForm
from .navigation import SECTIONS

RECENT = 5


def home(request: HttpRequest) -> HttpResponse:
    """The caller's teams, and their most recent libraries, campaigns, experiments and models."""
    user = request.user
    context = {
        "teams": selectors.teams_for_user(user),
        "sections": SECTIONS,
        "libraries": screening_selectors.recent_libraries(user, limit=RECENT),
        "campaigns": screening_selectors.recent_campaigns(user, limit=RECENT),
        "experiments": experiment_selectors.recent_experiments(user, limit=RECENT),
        "models": model_selectors.recent_models(user, limit=RECENT),
    }
    return render(request, "web/home.html", context)


def section_coming(request: HttpRequest, key: str) -> HttpResponse:
    section = next((s for s in SECTIONS if s.key == key), None)
    if section is None:
        raise Http404("No such section.")
    return render(request, "web/coming.html", {"section": section})


def teams(request: HttpRequest) -> HttpResponse:
    memberships = request.user.memberships.select_related("team").order_by("team__name")
    rows = [(m, m.team.memberships.select_related("user").order_by("user__username")) for m in memberships]
    return render(request, "web/teams.html", {"rows": rows})


ISSUED_COOKIE = "issued_token"


def tokens(request: HttpRequest) -> HttpResponse:
    """Create and list tokens. A new token travels once, in a short-lived signed cookie, to the page
    the browser is redirected to (so a reload never creates a second token), and is never stored."""
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            issued = services.api_token_create(user=request.user, **form.cleaned_data)
            response = redirect("tokens")
            response.set_signed_cookie(
                ISSUED_COOKIE,
                f"{issued.token.pk}:{issued.raw}",
                salt=ISSUED_COOKIE,
                max_age=60,
                path=request.path,
                secure=request.is_secure(),
                httponly=True,
                samesite="Strict",
            )
            return response
    else:
        form = ApiTokenForm()
    issued = _pop_issued_token(request)
    response = render(
        request, "web/tokens.html", {"form": form, "issued": issued, "tokens": selectors.tokens_for_user(request.user)}
    )
    if issued is not None or ISSUED_COOKIE in request.COOKIES:
        response.delete_cookie(ISSUED_COOKIE, path=request.path)
    return response


def _pop_issued_token(request: HttpRequest) -> dict | None:
    value = request.get_signed_cookie(ISSUED_COOKIE, default=None, salt=ISSUED_COOKIE, max_age=60)
    if not value or request.method != "GET":
        return None
    token_id, _, raw = value.partition(":")
    token = selectors.tokens_for_user(request.user).filter(pk=token_id).first()
    return {"token": token, "raw": raw} if token else None


@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(selectors.tokens_for_user(request.user), pk=token_id)
    services.api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked. It no longer works.")
    return redirect("tokens")
