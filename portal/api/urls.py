"""/api/: the schema and docs, and each app's API, included by module name (the portal imports no
app's views)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .root import ApiRootView

# Each app owns its API's URLs in `<app>/api/urls.py`.
APP_APIS = ("portal.teams.api.urls", "models_registry.api.urls", "screening.api.urls", "experiments.api.urls")

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    # Its start-up script is a file of its own (?script), not inline, for the Content-Security-Policy.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[]), name="api-docs"),
    *(path("", include(module)) for module in APP_APIS),
]
