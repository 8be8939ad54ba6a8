"""Query-string parameters of the read API, validated before any selector runs.

Each bad value is answered with `400` in DRF's shape, naming the value, e.g.
`{"role": ["\"XX\" is not a valid choice."]}`; an id that is well formed but
unknown is a bad value too, since a filter on a team that does not exist is
almost always a typo rather than a question whose answer is "nobody".
"""

from rest_framework import serializers

from football.models import Role, Season

from . import selectors

# Long enough for any real name, short enough that a search cannot be used to
# send the database kilobytes of LIKE patterns.
SEARCH_MAX_LENGTH = 100


class SourceIdField(serializers.IntegerField):
    """A data source id (Wyscout wyId): a positive whole number; the error names the bad value."""

    default_error_messages = {
        "invalid": "{value!r} is not a valid id: a positive whole number is expected.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and not (data.strip().isascii() and data.strip().isdecimal()):  # not "²"
            self.fail("invalid", value=data)
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # min_value's message does not name the value; say which one it was.
            raise serializers.ValidationError(
                self.error_messages["invalid"].format(value=data), code="invalid"
            ) from exc


class PlayerListFilterSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_MAX_LENGTH,
        help_text="Words of the player's name; case and accents are ignored (`mbappe` finds Mbappé).",
    )
    team = SourceIdField(required=False, help_text="Only players who appeared for this team (team id).")
    competition = SourceIdField(
        required=False, help_text="Only players who appeared in this competition (competition id)."
    )
    role = serializers.ChoiceField(required=False, choices=Role.choices, help_text="GK, DF, MD or FW.")

    def validate_team(self, value: int) -> int:
        if not selectors.team_exists(team_id=value):
            raise serializers.ValidationError(f"Unknown team {value}.")
        return value

    def validate_competition(self, value: int) -> int:
        if not selectors.competition_exists(competition_id=value):
            raise serializers.ValidationError(f"Unknown competition {value}.")
        return value


class TeamListFilterSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_MAX_LENGTH,
        help_text="Words of the team's name; case and accents are ignored.",
    )
    competition = SourceIdField(
        required=False, help_text="Only teams that played in this competition (competition id)."
    )

    def validate_competition(self, value: int) -> int:
        if not selectors.competition_exists(competition_id=value):
            raise serializers.ValidationError(f"Unknown competition {value}.")
        return value


class TeamDetailFilterSerializer(serializers.Serializer):
    season = SourceIdField(
        required=False, help_text="Only the squad of this season (season id); all seasons when omitted."
    )

    def validate_season(self, value: int) -> Season:
        season = selectors.season_get(season_id=value)
        if season is None:
            raise serializers.ValidationError(f"Unknown season {value}.")
        return season
