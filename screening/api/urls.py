"""/api/libraries/… and /api/campaigns/… (included by portal.api.urls)."""

from rest_framework.routers import SimpleRouter

from .campaigns import CampaignViewSet
from .libraries import LibraryViewSet

router = SimpleRouter()
router.register("libraries", LibraryViewSet, basename="library")
router.register("campaigns", CampaignViewSet, basename="campaign")
urlpatterns = router.urls
