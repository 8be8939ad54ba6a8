"""Reads behind the player-facing API: players, teams, competitions.

"Appeared" means a start or a substitution on (CONTRACT section 5): unused
substitutes are on the squad sheet but never count as having played.
"""

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Sum, Value, When

from football.models import Appearance, Competition, Match, Player, Role, Season, Team
from football.text import search_key

# The order a squad is read in: goalkeepers first, forwards last.
_ROLE_ORDER = Case(
    *(When(player__role=role, then=Value(rank)) for rank, role in enumerate(Role.values)),
    default=Value(len(Role.values)),
    output_field=IntegerField(),
)


def _played() -> QuerySet[Appearance]:
    return Appearance.objects.played()


def _search_filter(query: str) -> Q:
    """Every word of the query, folded like the stored `search_name`, must occur in it.

    Folding both sides with the same `search_key` makes the match ignore case
    and accents on every database, whatever its collation.
    """
    condition = Q()
    for word in search_key(query).split():
        condition &= Q(search_name__contains=word)
    return condition


def player_list(
    *,
    search: str = "",
    team_id: int | None = None,
    competition_id: int | None = None,
    role: str | None = None,
) -> QuerySet[Player]:
    """Players matching every filter given, by name; `last_team` is joined so a page costs one query."""
    players = Player.objects.select_related("last_team", "current_national_team").filter(
        _search_filter(search)
    )
    if role:
        players = players.filter(role=role)
    # EXISTS rather than a join: a player with forty appearances is still one row.
    if team_id is not None:
        players = players.filter(Exists(_played().filter(player=OuterRef("pk"), team_id=team_id)))
    if competition_id is not None:
        players = players.filter(
            Exists(_played().filter(player=OuterRef("pk"), match__competition_id=competition_id))
        )
    return players.order_by("name", "id")


def player_get(*, player_id: int) -> Player | None:
    return Player.objects.select_related("last_team", "current_national_team").filter(pk=player_id).first()


def player_seasons(*, player: Player) -> list[dict]:
    """One row per competition, season and team the player appeared for, with appearances and minutes.

    Oldest season first; a player who changed clubs mid-season has one row per club.
    """
    rows = (
        _played()
        .filter(player=player)
        .values(
            "match__competition_id",
            "match__competition__name",
            "match__season_id",
            "match__season__name",
            "team_id",
            "team__name",
        )
        .annotate(appearances=Count("id"), minutes=Sum("minutes"))
        .order_by("match__season__start_date", "match__season_id", "match__competition_id", "team__name")
    )
    return [
        {
            "competition": {"id": row["match__competition_id"], "name": row["match__competition__name"]},
            "season": {"id": row["match__season_id"], "name": row["match__season__name"]},
            "team": {"id": row["team_id"], "name": row["team__name"]},
            "appearances": row["appearances"],
            "minutes": row["minutes"] or 0,
        }
        for row in rows
    ]


def team_list(*, search: str = "", competition_id: int | None = None) -> QuerySet[Team]:
    teams = Team.objects.filter(_search_filter(search))
    if competition_id is not None:
        # Matches rather than appearances: a team plays a few dozen matches but
        # fields hundreds of appearances, so this EXISTS probes far fewer rows.
        teams = teams.filter(
            Exists(
                Match.objects.filter(
                    Q(home_team=OuterRef("pk")) | Q(away_team=OuterRef("pk")), competition_id=competition_id
                )
            )
        )
    return teams.order_by("name", "id")


def team_get(*, team_id: int) -> Team | None:
    return Team.objects.filter(pk=team_id).first()


def team_seasons(*, team: Team) -> QuerySet[Season]:
    """The seasons the team played a match in, each with its competition."""
    played = Match.objects.filter(Q(home_team=team) | Q(away_team=team), season=OuterRef("pk"))
    return Season.objects.select_related("competition").filter(Exists(played)).order_by("start_date", "id")


def team_squad(*, team: Team, season_id: int | None = None) -> list[dict]:
    """The players who appeared for the team (in one season if given), goalkeepers first.

    Each with the appearances and minutes they made for this team, so a reader
    can tell the regulars from a one-off substitute.
    """
    appearances = _played().filter(team=team)
    if season_id is not None:
        appearances = appearances.filter(match__season_id=season_id)
    rows = (
        appearances.values("player_id", "player__name", "player__short_name", "player__role")
        .annotate(appearances=Count("id"), minutes=Sum("minutes"), role_order=_ROLE_ORDER)
        .order_by("role_order", "player__name", "player_id")
    )
    return [
        {
            "id": row["player_id"],
            "name": row["player__name"],
            "short_name": row["player__short_name"],
            "role": row["player__role"],
            "appearances": row["appearances"],
            "minutes": row["minutes"] or 0,
        }
        for row in rows
    ]


def competition_list() -> QuerySet[Competition]:
    return Competition.objects.prefetch_related("seasons").order_by("id")


def competition_exists(*, competition_id: int) -> bool:
    return Competition.objects.filter(pk=competition_id).exists()


def team_exists(*, team_id: int) -> bool:
    return Team.objects.filter(pk=team_id).exists()


def season_get(*, season_id: int) -> Season | None:
    return Season.objects.filter(pk=season_id).first()
