from django.urls import path

from . import views

urlpatterns = [
    path("", views.experiment_list, name="experiments"),
    path("datasets/", views.dataset_upload, name="dataset-upload"),
    path("datasets/<int:dataset_id>/delete/", views.dataset_delete, name="dataset-delete"),
    path("plotly-<str:version>.min.js", views.plotly_js, name="plotly-js"),
    path("<int:experiment_id>/", views.experiment_detail, name="experiment-detail"),
    path("<int:experiment_id>/figures/", views.experiment_figures, name="experiment-figures"),
    path("<int:experiment_id>/<str:action>/", views.experiment_action, name="experiment-action"),
    path("<int:experiment_id>/trials/<int:trial_id>/log/", views.trial_log, name="trial-log"),
    path("<int:experiment_id>/summary/<str:name>/", views.summary_file, name="experiment-summary"),
]
