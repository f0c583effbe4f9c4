from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from experiments.api.experiments import ExperimentViewSet
from experiments.api.trials import TrialJobViewSet
from portal.teams.api import ApiTokenViewSet, MeView, TeamViewSet
from screening.api import LibraryViewSet
from screening.campaigns.api import CampaignViewSet

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("libraries", LibraryViewSet, basename="library")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("experiments", ExperimentViewSet, basename="experiment")
router.register("trials", TrialJobViewSet, basename="trial")

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[]), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema", permission_classes=[]), name="api-redoc"),
    path("", include("models_registry.api_urls")),
    path("", include(router.urls)),
]
