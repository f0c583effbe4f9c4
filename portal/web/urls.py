from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .navigation import SECTIONS

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/", views.teams, name="teams"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
# Sections whose app has not landed yet show what is coming.
COMING_SOON = {"dashboards"}
urlpatterns += [
    path(f"{section.key}/", views.section_coming, {"key": section.key}, name=section.url_name)
    for section in SECTIONS
    if section.key in COMING_SOON
]
