"""Output shapes of the player-facing read API, and the error shapes the schema documents."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from football.models import Competition, Player, Season, Team


class TeamRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CompetitionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SeasonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="2017/18, 2018 or 2016")


class PlayerSummarySerializer(serializers.ModelSerializer):
    team = TeamRefSerializer(
        source="last_team",
        allow_null=True,
        help_text="The club or national team of the player's latest appearance in the data.",
    )

    nationality = serializers.CharField(
        source="country",
        help_text="The country the player represents (their national team in the data), else their passport area.",
    )

    class Meta:
        model = Player
        fields = ["id", "name", "short_name", "role", "birth_date", "nationality", "team", "provider"]


class PlayerSeasonSerializer(serializers.Serializer):
    competition = CompetitionRefSerializer()
    season = SeasonRefSerializer()
    team = TeamRefSerializer()
    appearances = serializers.IntegerField(help_text="starts and substitutions on")
    minutes = serializers.IntegerField()


class PlayerDetailSerializer(serializers.ModelSerializer):
    """A player; the view computes `seasons` (players.selectors.player_seasons) and passes it in the context."""

    team = TeamRefSerializer(source="last_team", allow_null=True)
    nationality = serializers.CharField(
        source="country",
        help_text="The country the player represents (their national team in the data), else their passport area.",
    )
    passport_area = serializers.CharField(source="nationality", help_text="Wyscout's passportArea.")
    seasons = serializers.SerializerMethodField(
        help_text="One row per competition, season and team played for, oldest first."
    )

    class Meta:
        model = Player
        fields = [
            "id",
            "name",
            "first_name",
            "middle_name",
            "last_name",
            "short_name",
            "role",
            "birth_date",
            "height",
            "weight",
            "foot",
            "nationality",
            "passport_area",
            "birth_area",
            "team",
            "provider",
            "seasons",
        ]

    @extend_schema_field(PlayerSeasonSerializer(many=True))
    def get_seasons(self, player: Player) -> list:
        return list(PlayerSeasonSerializer(self.context["seasons"], many=True).data)


class TeamSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "official_name", "city", "area", "kind", "provider"]


class TeamSeasonSerializer(serializers.ModelSerializer):
    competition = CompetitionRefSerializer()

    class Meta:
        model = Season
        fields = ["id", "name", "competition"]


class SquadPlayerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    short_name = serializers.CharField()
    role = serializers.CharField()
    appearances = serializers.IntegerField(help_text="for this team, in the season asked for if any")
    minutes = serializers.IntegerField()


class TeamDetailSerializer(serializers.ModelSerializer):
    """A team; the view passes `seasons`, `season` and `squad` (players.selectors) in the context."""

    seasons = serializers.SerializerMethodField(help_text="The seasons the team played a match in.")
    season = serializers.SerializerMethodField(help_text="The season the squad is for; null for all seasons.")
    squad = serializers.SerializerMethodField(
        help_text="Players who appeared for the team (in `season` if given), goalkeepers first."
    )

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "official_name",
            "city",
            "area",
            "kind",
            "provider",
            "seasons",
            "season",
            "squad",
        ]

    @extend_schema_field(TeamSeasonSerializer(many=True))
    def get_seasons(self, team: Team) -> list:
        return list(TeamSeasonSerializer(self.context["seasons"], many=True).data)

    @extend_schema_field(SeasonRefSerializer(allow_null=True))
    def get_season(self, team: Team) -> dict | None:
        season = self.context["season"]
        return SeasonRefSerializer(season).data if season is not None else None

    @extend_schema_field(SquadPlayerSerializer(many=True))
    def get_squad(self, team: Team) -> list:
        return list(SquadPlayerSerializer(self.context["squad"], many=True).data)


class CompetitionSerializer(serializers.ModelSerializer):
    seasons = SeasonRefSerializer(many=True)

    class Meta:
        model = Competition
        fields = ["id", "name", "area", "kind", "seasons"]


# --- Error shapes, for the schema ------------------------------------------------


@extend_schema_serializer(component_name="ErrorDetail")
class ErrorDetailSerializer(serializers.Serializer):
    """`{"detail": "..."}`: authentication missing or wrong (401), not found (404), and the like."""

    detail = serializers.CharField()


def field_errors_serializer(name: str, fields: list[str]) -> type[serializers.Serializer]:
    """The 400 shape of an endpoint: each bad parameter mapped to the messages naming its value."""
    attrs = {field: serializers.ListField(child=serializers.CharField(), required=False) for field in fields}
    serializer = type(f"{name}Serializer", (serializers.Serializer,), attrs)
    return extend_schema_serializer(component_name=name)(serializer)


PlayerListErrorSerializer = field_errors_serializer(
    "PlayerListError", ["search", "team", "competition", "role"]
)
TeamListErrorSerializer = field_errors_serializer("TeamListError", ["search", "competition"])
TeamDetailErrorSerializer = field_errors_serializer("TeamDetailError", ["season"])
