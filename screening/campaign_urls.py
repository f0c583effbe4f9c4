from django.urls import path

from .views import campaigns as views

urlpatterns = [
    path("", views.campaign_list, name="campaigns"),
    path("<int:campaign_id>/", views.campaign_detail, name="campaign-detail"),
    path("<int:campaign_id>/cancel/", views.campaign_cancel, name="campaign-cancel"),
    path("<int:campaign_id>/retry/", views.campaign_retry, name="campaign-retry"),
    path("<int:campaign_id>/download/", views.campaign_download, name="campaign-download"),
]
