from django.urls import path

from . import views

urlpatterns = [
    path("", views.model_list, name="models"),
    path("<slug:team>/<str:name>/", views.model_detail, name="model-detail"),
    path("<slug:team>/<str:name>/versions/<int:version>/", views.version_detail, name="model-version"),
]
