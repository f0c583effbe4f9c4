from django.urls import path

from .views import libraries as views

urlpatterns = [
    path("", views.library_list, name="libraries"),
    path("preview/", views.library_preview_json, name="library-preview"),
    path("<int:library_id>/", views.library_detail, name="library-detail"),
    path("<int:library_id>/cancel/", views.library_cancel, name="library-cancel"),
    path("<int:library_id>/delete/", views.library_delete, name="library-delete"),
]
