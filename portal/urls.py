from django.contrib import admin
from django.urls import include, path

from portal.ops import views as ops_views

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("portal.api.urls")),
    path("models/", include("models_registry.urls")),
    path("libraries/", include("screening.urls")),
    path("campaigns/", include("screening.campaign_urls")),
    path("experiments/", include("experiments.urls")),
    path("", include("portal.web.urls")),
]

handler400 = "portal.web.errors.bad_request"
handler403 = "portal.web.errors.permission_denied"
handler404 = "portal.web.errors.page_not_found"
handler500 = "portal.web.errors.server_error"
