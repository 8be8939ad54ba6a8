"""The player-facing read API and the token endpoint.

Each view parses and validates its query string (players.filters), calls one
selector (players.selectors) and shapes the answer (players.serializers).
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.throttling import AnonRateThrottle

from . import selectors
from .filters import PlayerListFilterSerializer, TeamDetailFilterSerializer, TeamListFilterSerializer
from .serializers import (
    CompetitionSerializer,
    ErrorDetailSerializer,
    PlayerDetailSerializer,
    PlayerListErrorSerializer,
    PlayerSummarySerializer,
    TeamDetailErrorSerializer,
    TeamDetailSerializer,
    TeamListErrorSerializer,
    TeamSummarySerializer,
)

UNAUTHENTICATED = OpenApiResponse(
    ErrorDetailSerializer, description="No credentials, or wrong ones: send `Authorization: Token KEY`."
)
PAGE_NOT_FOUND = OpenApiResponse(ErrorDetailSerializer, description="`page` is beyond the last page.")
THROTTLED = OpenApiResponse(ErrorDetailSerializer, description="Too many requests; see Retry-After.")
# The headers of those answers, as DRF sends them.
ERROR_HEADERS = [
    OpenApiParameter(
        "WWW-Authenticate",
        str,
        OpenApiParameter.HEADER,
        response=[401],
        required=True,
        description="`Token`: the authentication scheme expected.",
    ),
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        response=[429],
        required=True,
        description="Seconds to wait before the next request.",
    ),
]


def _id_path_parameter(what: str) -> OpenApiParameter:
    # As the URL takes it (`<int:id>`: digits only) and as the data has it: a
    # whole number from 1. One that is not in the data is a 404.
    return OpenApiParameter(
        "id",
        {"type": "integer", "minimum": 1},
        OpenApiParameter.PATH,
        description=f"The {what}'s id in the data source (Wyscout wyId); an unknown one is a 404.",
    )


@extend_schema(
    tags=["players"],
    summary="Search and filter players",
    parameters=[PlayerListFilterSerializer, *ERROR_HEADERS],
    responses={
        200: PlayerSummarySerializer(many=True),
        400: OpenApiResponse(PlayerListErrorSerializer, description="A bad filter value, named."),
        401: UNAUTHENTICATED,
        429: THROTTLED,
        404: PAGE_NOT_FOUND,
    },
)
class PlayerListApi(generics.ListAPIView):
    serializer_class = PlayerSummarySerializer

    def get_queryset(self):
        filters = PlayerListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        return selectors.player_list(
            search=params.get("search", ""),
            team_id=params.get("team"),
            competition_id=params.get("competition"),
            role=params.get("role"),
        )


class PlayerDetailApi(APIView):
    @extend_schema(
        tags=["players"],
        summary="One player, with the competitions and seasons they played in",
        parameters=[_id_path_parameter("player"), *ERROR_HEADERS],
        responses={
            200: PlayerDetailSerializer,
            401: UNAUTHENTICATED,
            429: THROTTLED,
            404: OpenApiResponse(ErrorDetailSerializer, description="No player with this id."),
        },
    )
    def get(self, request: Request, id: int) -> Response:
        player = selectors.player_get(player_id=id)
        if player is None:
            raise NotFound(f"Unknown player {id}.")
        seasons = selectors.player_seasons(player=player)
        return Response(PlayerDetailSerializer(player, context={"seasons": seasons}).data)


@extend_schema(
    tags=["teams"],
    summary="Search and filter teams",
    parameters=[TeamListFilterSerializer, *ERROR_HEADERS],
    responses={
        200: TeamSummarySerializer(many=True),
        400: OpenApiResponse(TeamListErrorSerializer, description="A bad filter value, named."),
        401: UNAUTHENTICATED,
        429: THROTTLED,
        404: PAGE_NOT_FOUND,
    },
)
class TeamListApi(generics.ListAPIView):
    serializer_class = TeamSummarySerializer

    def get_queryset(self):
        filters = TeamListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        return selectors.team_list(search=params.get("search", ""), competition_id=params.get("competition"))


class TeamDetailApi(APIView):
    @extend_schema(
        tags=["teams"],
        summary="One team, with its seasons and the players who appeared for it",
        parameters=[_id_path_parameter("team"), TeamDetailFilterSerializer, *ERROR_HEADERS],
        responses={
            200: TeamDetailSerializer,
            400: OpenApiResponse(TeamDetailErrorSerializer, description="A bad `season`, named."),
            401: UNAUTHENTICATED,
            429: THROTTLED,
            404: OpenApiResponse(ErrorDetailSerializer, description="No team with this id."),
        },
    )
    def get(self, request: Request, id: int) -> Response:
        team = selectors.team_get(team_id=id)
        if team is None:
            raise NotFound(f"Unknown team {id}.")
        filters = TeamDetailFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        season = filters.validated_data.get("season")
        context = {
            "seasons": selectors.team_seasons(team=team),
            "season": season,
            "squad": selectors.team_squad(team=team, season_id=season.id if season else None),
        }
        return Response(TeamDetailSerializer(team, context=context).data)


class CompetitionListApi(APIView):
    @extend_schema(
        tags=["competitions"],
        summary="Competitions with their seasons",
        parameters=ERROR_HEADERS,
        responses={200: CompetitionSerializer(many=True), 401: UNAUTHENTICATED, 429: THROTTLED},
    )
    def get(self, request: Request) -> Response:
        # Not paginated: the data set holds seven competitions.
        return Response(CompetitionSerializer(selectors.competition_list(), many=True).data)


class TokenObtainApi(ObtainAuthToken):
    """DRF's token view: the same token for a user on every call, created on the first."""

    # DRF's view turns throttling off; the `anon` rate bounds password guessing per address.
    throttle_classes = [AnonRateThrottle]

    def get_serializer_context(self):
        # The password check goes through django-axes, which marks a locked-out
        # request for its middleware to answer 429: it must mark Django's
        # request, which the middleware holds, not DRF's wrapper of it.
        return {**super().get_serializer_context(), "request": self.request._request}

    @extend_schema(
        tags=["auth"],
        summary="Exchange a username and password for an API token",
        description="Send the token as `Authorization: Token KEY` on every other request.",
        request=AuthTokenSerializer,
        parameters=[header for header in ERROR_HEADERS if header.name == "Retry-After"],
        responses={
            200: inline_serializer("AuthTokenResponse", {"token": serializers.CharField()}),
            400: OpenApiResponse(
                inline_serializer(
                    "AuthTokenError",
                    {
                        "username": serializers.ListField(child=serializers.CharField(), required=False),
                        "password": serializers.ListField(child=serializers.CharField(), required=False),
                        "non_field_errors": serializers.ListField(
                            child=serializers.CharField(), required=False
                        ),
                        # A body that does not parse as JSON.
                        "detail": serializers.CharField(required=False),
                    },
                ),
                description="Missing fields, or a username and password that do not match an active user.",
            ),
            429: OpenApiResponse(
                ErrorDetailSerializer,
                description=(
                    "Too many attempts from this address, or too many failed ones for this username"
                    " from it (LOGIN_FAILURE_LIMIT); see Retry-After."
                ),
            ),
        },
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
