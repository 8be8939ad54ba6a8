"""Who the player is: identity, body, role, and the teams they played for in the data."""

from django.db.models import Max, Min

from football.models import Appearance, Match, Player
from tasks.queues import FAST_QUEUE

from .base import Section, SectionContext, SectionError


def _age_on(birth_date, day) -> int | None:
    if birth_date is None or day is None:
        return None
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def compute(context: SectionContext) -> dict:
    player = Player.objects.select_related("current_national_team").filter(pk=context.player_id).first()
    if player is None:
        raise SectionError(f"player {context.player_id} is not in the football database")
    teams = list(
        Appearance.objects.filter(player_id=player.id)
        .played()
        .values("team_id", "team__name", "team__kind")
        .annotate(first=Min("match__date_utc"), last=Max("match__date_utc"))
        .order_by("first")
    )
    season_end = Match.objects.filter(appearances__player_id=player.id).aggregate(
        last=Max("season__end_date")
    )["last"]
    return {
        "id": player.id,
        "name": player.name,
        "short_name": player.short_name,
        "birth_date": player.birth_date.isoformat() if player.birth_date else None,
        "age_at_season_end": _age_on(player.birth_date, season_end),
        "season_end": season_end.isoformat() if season_end else None,
        "height_cm": player.height,
        "weight_kg": player.weight,
        "foot": player.foot or None,
        "role": player.role,
        # The country played for; Wyscout's passport area can be another one (football.models.Player.country).
        "nationality": player.country or None,
        "passport_area": player.nationality or None,
        "birth_area": player.birth_area or None,
        "teams": [
            {
                "id": row["team_id"],
                "name": row["team__name"],
                "kind": row["team__kind"],
                "first_match": row["first"].date().isoformat(),
                "last_match": row["last"].date().isoformat(),
            }
            for row in teams
        ],
    }


SECTION = Section(
    name="profile",
    queue=FAST_QUEUE,
    # 2: nationality is the country played for, with the passport area beside it.
    version=2,
    compute=compute,
    description="name, birth date, age at season end, height, weight, foot, role, nationality, teams",
)
