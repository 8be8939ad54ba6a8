"""A hand-made record for the fast-section tests: one player, four matches, every kind of event that counts.

The expected figures in the tests are worked out by hand from the events
below. The xG and xT models are stored with parameters that make their values
easy to compute by hand too: every non-penalty shot is worth 0.5 xG and every
penalty 0.75; a zone's xT is 0.01 per column along the pitch.
"""

import datetime as dt
import itertools
import math
from dataclasses import dataclass

from django.utils import timezone

from football.analytics.xg import FEATURES
from football.models import Appearance, Competition, Event, FittedModel, Match, Player
from football.tests.factories import (
    AppearanceFactory,
    CompetitionFactory,
    MatchFactory,
    PlayerFactory,
    SeasonFactory,
    TeamFactory,
)

OPEN_PLAY_XG = 0.5
PENALTY_XG = 0.75
_event_ids = itertools.count(9_800_000_000)


def store_known_xg(version: str = "known-xg") -> FittedModel:
    return FittedModel.objects.create(
        kind=FittedModel.Kind.EXPECTED_GOALS,
        version=version,
        data_version="test",
        parameters={
            "features": list(FEATURES),
            "scale": {"distance_m": [0.0, 1.0], "angle_rad": [0.0, 1.0]},
            # All slopes zero: the logit is the intercept, 0 -> 0.5.
            "coefficients": {
                "open_play_intercept": 0.0,
                **dict.fromkeys(FEATURES, 0.0),
                "penalty_intercept": math.log(PENALTY_XG / (1 - PENALTY_XG)),
            },
            "open_play_base_rate": OPEN_PLAY_XG,
        },
    )


def store_known_xt(version: str = "known-xt", columns: int = 16, rows: int = 12) -> FittedModel:
    return FittedModel.objects.create(
        kind=FittedModel.Kind.EXPECTED_THREAT,
        version=version,
        data_version="test",
        parameters={"values": [[0.01 * i] * rows for i in range(columns)]},
    )


def event(
    match, team, player, *, type_id, subtype_id, x, y, tags, period="1H", second, end_x=None, end_y=None
):
    return Event(
        id=next(_event_ids),
        match_id=match.id,
        team_id=team.id,
        player_id=player.id,
        type_id=type_id,
        subtype_id=subtype_id,
        period=period,
        second=second,
        x=x,
        y=y,
        end_x=end_x,
        end_y=end_y,
        tags=tags,
    )


@dataclass
class Record:
    player: Player
    league: Competition
    cup: Competition
    home_win: Match  # the player's team at home, 3-1
    away_win: Match  # the player's team away, 2-1 (1-2 on the sheet)
    shootout: Match  # away, 1-1 after extra time, won 5-4 on penalties
    unused: Match  # on the bench, not used


def build_record() -> Record:
    league = CompetitionFactory(name="Test League")
    cup = CompetitionFactory(name="Test Cup", kind=Competition.Kind.TOURNAMENT)
    league_season = SeasonFactory(competition=league)
    cup_season = SeasonFactory(competition=cup, name="2018")
    team, rival, other = (
        TeamFactory(name="Home FC"),
        TeamFactory(name="Rival FC"),
        TeamFactory(name="Other FC"),
    )
    player = PlayerFactory(short_name="T. Striker", role="FW")
    day = timezone.make_aware(dt.datetime(2017, 9, 2, 15))

    home_win = MatchFactory(
        season=league_season, home_team=team, away_team=rival, home_score=3, away_score=1, date_utc=day
    )
    away_win = MatchFactory(
        season=league_season,
        home_team=rival,
        away_team=team,
        home_score=1,
        away_score=2,
        date_utc=day + dt.timedelta(days=7),
    )
    shootout = MatchFactory(
        season=cup_season,
        home_team=other,
        away_team=team,
        home_score=1,
        away_score=1,
        home_score_et=0,
        away_score_et=0,
        home_score_p=4,
        away_score_p=5,
        duration=Match.Duration.PENALTIES,
        winner=team,
        date_utc=day + dt.timedelta(days=14),
    )
    unused = MatchFactory(
        season=league_season,
        home_team=team,
        away_team=other,
        home_score=0,
        away_score=0,
        date_utc=day + dt.timedelta(days=21),
    )
    AppearanceFactory(match=home_win, player=player, team=team, yellow_card_minute=30)
    AppearanceFactory(
        match=away_win,
        player=player,
        team=team,
        status=Appearance.Status.SUBSTITUTE,
        minute_on=45,
        minute_off=90,
        minutes=45,
    )
    AppearanceFactory(match=shootout, player=player, team=team, minute_off=120, minutes=120)
    AppearanceFactory(match=unused, player=player, team=team, unused=True)

    e = event
    Event.objects.bulk_create(
        [
            # The home win: two goals (one a penalty), four more shots, an own goal, passes, duels.
            e(
                home_win,
                team,
                player,
                type_id=10,
                subtype_id=100,
                x=90,
                y=50,
                tags="101,402,1203,1801",
                second=600,
            ),
            e(
                home_win,
                team,
                player,
                type_id=3,
                subtype_id=35,
                x=89,
                y=50,
                tags="101,1201,1801",
                period="2H",
                second=300,
            ),
            e(home_win, team, player, type_id=3, subtype_id=33, x=75, y=40, tags="401,1215,1802", second=900),
            e(
                home_win,
                team,
                player,
                type_id=10,
                subtype_id=100,
                x=85,
                y=60,
                tags="402,1802,2101",
                second=1000,
            ),
            e(
                home_win,
                team,
                player,
                type_id=10,
                subtype_id=100,
                x=92,
                y=45,
                tags="403,1217,1802",
                second=1100,
            ),
            e(
                home_win,
                team,
                player,
                type_id=10,
                subtype_id=100,
                x=88,
                y=55,
                tags="401,1205,1801,1901",
                second=1200,
            ),
            e(home_win, team, player, type_id=7, subtype_id=71, x=5, y=50, tags="102", second=1300),
            e(
                home_win,
                team,
                player,
                type_id=8,
                subtype_id=85,
                x=60,
                y=50,
                end_x=80,
                end_y=50,
                tags="301,302,1801",
                second=1400,
            ),
            e(
                home_win,
                team,
                player,
                type_id=8,
                subtype_id=83,
                x=40,
                y=30,
                end_x=70,
                end_y=20,
                tags="1802",
                second=1500,
            ),
            e(home_win, team, player, type_id=1, subtype_id=10, x=50, y=50, tags="703,1801", second=1600),
            e(home_win, team, player, type_id=1, subtype_id=11, x=55, y=55, tags="701,1802", second=1700),
            # The away win: a header.
            e(
                away_win,
                team,
                player,
                type_id=10,
                subtype_id=100,
                x=95,
                y=50,
                tags="101,403,1207,1801",
                period="2H",
                second=1200,
            ),
            # The cup tie: only a shoot-out kick, which is not part of the record.
            e(
                shootout,
                team,
                player,
                type_id=3,
                subtype_id=35,
                x=89,
                y=50,
                tags="101,1201,1801",
                period="P",
                second=30,
            ),
        ]
    )
    return Record(
        player=player,
        league=league,
        cup=cup,
        home_win=home_win,
        away_win=away_win,
        shootout=shootout,
        unused=unused,
    )


# The known possession-value model: each classifier gives the same probability to every
# state, so an action after one of his own team's is worth 0 and an action after the
# opponent's (the view swaps) is worth (P_SCORE - P_CONCEDE) - (P_CONCEDE - P_SCORE).
KNOWN_P_SCORE = 0.1
KNOWN_P_CONCEDE = 0.02
KNOWN_TURNOVER_VALUE = 2 * (KNOWN_P_SCORE - KNOWN_P_CONCEDE)


def store_known_vaep(version: str = "known-vaep") -> FittedModel:
    import base64
    import pickle

    import numpy as np
    import sklearn
    from sklearn.dummy import DummyClassifier

    from football.analytics.vaep import CATEGORICAL, FEATURES

    def constant(rate: float) -> str:
        # A prior classifier fitted on 50 outcomes with `rate` of them positive.
        outcomes = np.zeros(50, dtype=bool)
        outcomes[: round(50 * rate)] = True
        classifier = DummyClassifier(strategy="prior").fit(np.zeros((50, len(FEATURES))), outcomes)
        return base64.b64encode(pickle.dumps(classifier)).decode()

    return FittedModel.objects.create(
        kind=FittedModel.Kind.POSSESSION_VALUE,
        version=version,
        data_version="test",
        parameters={
            "features": list(FEATURES),
            "categorical": list(CATEGORICAL),
            "lookahead": 10,
            "sklearn": sklearn.__version__,
            "scores_model": constant(KNOWN_P_SCORE),
            "concedes_model": constant(KNOWN_P_CONCEDE),
        },
    )
