"""GET /api/: where each part of the API starts, as links (what a browsing client or a person sees)."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# url name → the key it is listed under; each app's api/urls.py defines these names.
ENTRY_POINTS = {
    "me": "api-me",
    "teams": "team-list",
    "tokens": "token-list",
    "models": "api-models",
    "libraries": "library-list",
    "campaigns": "campaign-list",
    "experiments": "experiment-list",
    "schema": "api-schema",
    "docs": "api-docs",
}


class ApiRootView(APIView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response({key: reverse(name, request=request) for key, name in ENTRY_POINTS.items()})
