"""/api/me/, /api/teams/… and /api/tokens/… (included by portal.api.urls)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ApiTokenViewSet, MeView, TeamViewSet

router = SimpleRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("tokens", ApiTokenViewSet, basename="token")
urlpatterns = [path("me/", MeView.as_view(), name="api-me"), *router.urls]
