"""The expected-goals model, fitted on a synthetic but realistic shot set.

Shots are drawn from a known logistic law (closer, more central: likelier; a
header: less likely), penalties convert at 78%: a correct fit must recover
those shapes and the penalty rate.
"""

import math

import numpy as np
import pytest

from football.analytics import FitError, ModelNotFittedError
from football.analytics.xg import XgModel, fit_xg, load_current_xg, shot_geometry
from football.models import Event, FittedModel
from football.tests.factories import MatchFactory, PlayerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]

PENALTIES = 200
PENALTY_GOALS = 156  # 78%, about the conversion in the top leagues


def _true_probability(x: float, y: float, header: bool) -> float:
    distance, angle = shot_geometry(x, y)
    return 1 / (1 + math.exp(-(0.2 - 0.14 * distance + 1.2 * angle - 0.9 * header)))


def _shot(event_id, match, player, *, x, y, subtype_id=100, tags, period="1H"):
    type_id = 10 if subtype_id == 100 else 3
    return Event(
        id=event_id,
        match_id=match.id,
        team_id=match.home_team_id,
        player_id=player.id,
        type_id=type_id,
        subtype_id=subtype_id,
        period=period,
        second=float(event_id % 2700),
        x=x,
        y=y,
        end_x=None,
        end_y=None,
        tags=tags,
    )


@pytest.fixture
def shot_set():
    rng = np.random.default_rng(7)
    match = MatchFactory()
    player = PlayerFactory()
    events = []
    next_id = iter(range(9_500_000_000, 9_600_000_000))
    for _ in range(3000):
        x = int(rng.integers(65, 100))
        y = int(rng.integers(15, 86))
        header = bool(rng.random() < 0.2)
        goal = rng.random() < _true_probability(x, y, header)
        tags = [101] if goal else []
        tags += [403] if header else [int(rng.choice([401, 402]))]
        tags += [1801 if goal else 1802]
        events.append(_shot(next(next_id), match, player, x=x, y=y, tags=",".join(map(str, tags))))
    for i in range(PENALTIES):
        tags = "101,402,1801" if i < PENALTY_GOALS else "402,1802"
        events.append(_shot(next(next_id), match, player, x=89, y=50, subtype_id=35, tags=tags))
    for _ in range(150):
        goal = rng.random() < 0.06
        tags = "101,401,1801" if goal else "401,1802"
        x, y = int(rng.integers(70, 80)), int(rng.integers(30, 70))
        events.append(_shot(next(next_id), match, player, x=x, y=y, subtype_id=33, tags=tags))
    # Shoot-out kicks, all missed: they must not drag the penalty rate down.
    for _ in range(30):
        events.append(
            _shot(next(next_id), match, player, x=89, y=50, subtype_id=35, tags="402,1802", period="P")
        )
    Event.objects.bulk_create(events)
    return events


def test_load_before_any_fit_says_what_to_run():
    with pytest.raises(
        ModelNotFittedError, match=r"expected-goals model not fitted yet: run manage\.py refresh_analytics"
    ):
        load_current_xg()


def test_fit_without_shots_is_a_clear_error():
    with pytest.raises(FitError, match="no shots"):
        fit_xg()
    assert not FittedModel.objects.exists()


def test_closer_and_more_central_shots_score_higher(shot_set):
    model = XgModel.from_fitted(fit_xg())
    close, far = model.predict([(95, 50, 100, "402"), (75, 50, 100, "402")])
    central, wide = model.predict([(88, 50, 100, "402"), (88, 20, 100, "402")])
    assert close > far
    assert central > wide
    assert 0 < far < close < 1


def test_headers_score_lower_than_foot_shots_from_the_same_spot(shot_set):
    model = load_current_xg() if FittedModel.objects.exists() else XgModel.from_fitted(fit_xg())
    foot, header = model.predict([(92, 50, 100, "401"), (92, 50, 100, "403")])
    assert header < foot


def test_penalties_near_their_conversion_and_shootouts_left_out(shot_set):
    fitted = fit_xg()
    model = XgModel.from_fitted(fitted)
    (penalty,) = model.predict([(89, 50, 35, "402")])
    assert penalty == pytest.approx(PENALTY_GOALS / PENALTIES, abs=0.02)
    # Location does not matter for a penalty: it has its own term.
    assert model.predict([(None, None, 35, "")])[0] == pytest.approx(penalty)
    by_situation = fitted.metrics["by_situation"]["penalty"]
    assert by_situation["shots"] == PENALTIES
    assert by_situation["goal_rate"] == pytest.approx(0.78)


def test_held_out_evaluation_beats_the_base_rate_and_is_calibrated(shot_set):
    fitted = fit_xg()
    held_out = fitted.metrics["held_out"]
    total = len([e for e in shot_set if e.period != "P"])
    assert held_out["shots"] == round(total * 0.2)
    assert held_out["train_shots"] + held_out["shots"] == total
    assert held_out["brier"] < held_out["brier_base_rate"]
    assert 0 < held_out["log_loss"] < 0.5
    calibration = held_out["calibration"]
    assert len(calibration) == 10
    assert sum(row["shots"] for row in calibration) == held_out["shots"]
    # The deciles rise, and the top one holds the penalties and tap-ins.
    assert calibration[0]["mean_xg"] < calibration[-1]["mean_xg"]
    assert calibration[-1]["goal_rate"] > calibration[0]["goal_rate"]


def test_refit_of_the_same_data_keeps_one_row_with_the_same_version(shot_set):
    first = fit_xg()
    second = fit_xg()
    assert first.version == second.version
    assert len(first.version) == 64
    assert FittedModel.objects.filter(kind="xg").count() == 1
    assert load_current_xg().version == second.version


def test_predict_empty_and_unplaced_shots():
    model = XgModel(
        {
            "scale": {"distance_m": [15.0, 7.0], "angle_rad": [0.4, 0.2]},
            "coefficients": {
                "open_play_intercept": -2.0,
                "distance_m": -1.0,
                "angle_rad": 0.5,
                "header": -0.5,
                "free_kick": -0.3,
                "counter_attack": 0.2,
                "penalty_intercept": 1.3,
            },
            "open_play_base_rate": 0.1,
        }
    )
    assert model.predict([]).shape == (0,)
    assert model.predict([(None, None, 100, "")])[0] == pytest.approx(0.1)
    assert model.predict([(89, 50, 35, "")])[0] == pytest.approx(1 / (1 + math.exp(-1.3)))
