"""The possession-value model's pieces on hand-made actions: labels, features, values, storage."""

import numpy as np
import pytest

from football.analytics import ModelNotFittedError
from football.analytics.vaep import FEATURES, VaepModel, action_values, actions_of, features, labels

HOME, AWAY = 1, 2


def row(
    event_id,
    second,
    team,
    player,
    type_id,
    subtype_id,
    x,
    y,
    tags="",
    end=(None, None),
    match=10,
    period="1H",
):
    # MOVE_EVENT_FIELDS: id, match, period, second, team, player, type, subtype, x, y, end_x, end_y, tags
    return (event_id, match, period, second, team, player, type_id, subtype_id, x, y, end[0], end[1], tags)


def sample_rows():
    return [
        row(1, 1.0, HOME, 11, 8, 85, 50, 50, "1801", (60, 40)),  # pass
        row(2, 3.0, HOME, 12, 10, 100, 90, 50, "101,1801"),  # goal
        row(3, 4.0, None, None, 5, 50, None, None),  # an interruption: not an action
        row(4, 60.0, AWAY, 21, 8, 85, 50, 50, "1801", (40, 30)),  # kick-off
        row(5, 62.0, AWAY, 22, 7, 72, 20, 40, "102"),  # own goal: a goal for HOME
        row(6, 1.0, HOME, 11, 8, 85, 30, 30, "1802", (70, 70), period="2H"),
    ]


def test_actions_and_labels_by_hand():
    actions = actions_of(sample_rows())
    assert actions.event_id.tolist() == [1, 2, 4, 5, 6]
    assert actions.goal.tolist() == [0, 1, 0, -1, 0]
    assert actions.success.tolist() == [1.0, 1.0, 1.0, 0.5, 0.0]
    scores, concedes = labels(actions, lookahead=2)
    # Two actions ahead (the action itself included): the pass and the goal score for HOME;
    # AWAY's kick-off is followed by its own goal (a goal for HOME): AWAY concedes.
    assert scores.tolist() == [True, True, False, False, False]
    assert concedes.tolist() == [False, False, True, True, False]


def test_features_mirror_the_opponents_earlier_actions():
    actions = actions_of(sample_rows())
    matrix = features(actions)
    column = {name: i for i, name in enumerate(FEATURES)}
    kick_off, own_goal, second_half = matrix[2], matrix[3], matrix[4]
    # Before the kick-off: HOME's goal at (90, 50), seen from AWAY's side at (10, 50).
    assert (kick_off[column["a1_x"]], kick_off[column["a1_y"]]) == (10.0, 50.0)
    assert kick_off[column["a1_same_team"]] == 0.0
    assert kick_off[column["a1_seconds_before"]] == pytest.approx(57.0)
    assert own_goal[column["a1_same_team"]] == 1.0 and own_goal[column["a1_x"]] == 50.0
    # A new period has no history.
    assert np.isnan(second_half[column["a1_kind"]]) and np.isnan(second_half[column["a2_x"]])
    assert kick_off[column["a0_distance_m"]] == pytest.approx(52.5)


def test_values_by_hand():
    actions = actions_of(sample_rows())
    p_score = np.array([0.05, 0.9, 0.02, 0.01, 0.04])
    p_concede = np.array([0.01, 0.02, 0.03, 0.5, 0.01])
    offensive, defensive = action_values(actions, p_score, p_concede)
    # The goal: from the pass's state (0.05, 0.01) to (0.9, 0.02).
    assert offensive[1] == pytest.approx(0.85) and defensive[1] == pytest.approx(-0.01)
    # After a goal (the kick-off) and at a new period: no state before, worth 0.
    assert (offensive[2], defensive[2], offensive[4], defensive[4]) == (0.0, 0.0, 0.0, 0.0)
    # The own goal follows AWAY's own kick-off: (0.01 - 0.02) offensive, -(0.5 - 0.03) defensive.
    assert offensive[3] == pytest.approx(-0.01) and defensive[3] == pytest.approx(-0.47)
    assert (offensive[0], defensive[0]) == (0.0, 0.0)  # the first action of the period


def test_a_model_from_another_scikit_learn_is_refused():
    with pytest.raises(ModelNotFittedError, match=r"fitted with scikit-learn 0\.1, .*refresh_analytics"):
        VaepModel({"sklearn": "0.1", "features": list(FEATURES)}, version="abc")
    import sklearn

    with pytest.raises(ModelNotFittedError, match="other features"):
        VaepModel({"sklearn": sklearn.__version__, "features": ["x"]}, version="abc")
