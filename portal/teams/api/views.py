"""API for the caller's identity, teams, memberships and personal tokens."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import Membership, Team
from .serializers import (
    ApiTokenInputSerializer,
    ApiTokenSerializer,
    IssuedTokenSerializer,
    MembershipInputSerializer,
    MembershipSerializer,
    MeSerializer,
    TeamSerializer,
)


def require_team_admin(user, team: Team) -> None:
    if not Membership.objects.filter(team=team, user=user, role=Membership.Role.ADMIN).exists():
        raise PermissionDenied("Only an admin of this team can do that.")


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="Who am I, and in which teams")
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The caller's teams. Admins of a team may rename it and manage its members."""

    serializer_class = TeamSerializer
    lookup_field = "slug"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.teams_for_user(self.request.user).prefetch_related(
            Prefetch("memberships", queryset=Membership.objects.select_related("user"))
        )

    def perform_update(self, serializer):
        require_team_admin(self.request.user, serializer.instance)
        serializer.save()

    @extend_schema(request=MembershipInputSerializer, responses=MembershipSerializer(many=True))
    @action(detail=True, methods=["get", "post"])
    def members(self, request, slug=None):
        team = self.get_object()
        if request.method == "POST":
            require_team_admin(request.user, team)
            data = MembershipInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            membership = services.membership_set(team=team, **data.validated_data)
            return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)
        memberships = team.memberships.select_related("user").order_by("user__username")
        return Response(MembershipSerializer(memberships, many=True).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<username>[\w.@+-]+)")
    def remove_member(self, request, slug=None, username=None):
        team = self.get_object()
        require_team_admin(request.user, team)
        membership = team.memberships.filter(user__username=username).first()
        if membership is None:
            return Response(status=status.HTTP_404_NOT_FOUND)
        services.membership_remove(team=team, user=membership.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The caller's personal API tokens. Creating returns the token once; deleting revokes it."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        return selectors.tokens_for_user(self.request.user)

    @extend_schema(request=ApiTokenInputSerializer, responses={201: IssuedTokenSerializer})
    def create(self, request):
        data = ApiTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.api_token_create(user=request.user, **data.validated_data)
        body = IssuedTokenSerializer(issued.token).data | {"token": issued.raw}
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.api_token_revoke(token=instance)
