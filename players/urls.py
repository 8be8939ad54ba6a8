from django.urls import path

from . import apis

urlpatterns = [
    path("auth/token/", apis.TokenObtainApi.as_view(), name="auth-token"),
    path("players/", apis.PlayerListApi.as_view(), name="player-list"),
    path("players/<int:id>/", apis.PlayerDetailApi.as_view(), name="player-detail"),
    path("teams/", apis.TeamListApi.as_view(), name="team-list"),
    path("teams/<int:id>/", apis.TeamDetailApi.as_view(), name="team-detail"),
    path("competitions/", apis.CompetitionListApi.as_view(), name="competition-list"),
]
