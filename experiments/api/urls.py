"""/api/experiments/… and /api/datasets/… for people, /api/trials/… for trial jobs (included by portal.api.urls)."""

from rest_framework.routers import SimpleRouter

from .datasets import DatasetViewSet
from .experiments import ExperimentViewSet
from .trials import TrialJobViewSet

router = SimpleRouter()
router.register("experiments", ExperimentViewSet, basename="experiment")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("trials", TrialJobViewSet, basename="trial")
urlpatterns = router.urls
