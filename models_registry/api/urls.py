from django.urls import path

from . import views as api

NAME = "<str:name>"
urlpatterns = [
    path("models/", api.ModelListView.as_view(), name="api-models"),
    path(f"models/{NAME}/", api.ModelDetailView.as_view(), name="api-model"),
    path(f"models/{NAME}/versions/", api.VersionListView.as_view(), name="api-model-versions"),
    path(f"models/{NAME}/versions/<str:ref>/", api.VersionDetailView.as_view(), name="api-model-version"),
    path(f"models/{NAME}/versions/<str:ref>/predict", api.PredictView.as_view(), name="api-model-predict"),
    path(f"models/{NAME}/aliases/", api.AliasListView.as_view(), name="api-model-aliases"),
    path(f"models/{NAME}/aliases/<str:alias>/", api.AliasDetailView.as_view(), name="api-model-alias"),
]
