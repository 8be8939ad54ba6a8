"""The expected-threat grid: carries read from the event stream, the iteration, a fit on synthetic play."""

import numpy as np
import pytest

from football.analytics import FitError, ModelNotFittedError
from football.analytics.xt import (
    CARRY,
    PASS,
    XT_GRID_X,
    XT_GRID_Y,
    Move,
    OpenPlayShot,
    XtCounts,
    XtGrid,
    fit_xt,
    iter_actions,
    iter_event_rows,
    load_current_xt,
    solve_xt,
    xt_added_by_player_match,
)
from football.models import Event, FittedModel
from football.tests.factories import MatchFactory, PlayerFactory


def row(event_id, second, team, player, type_id, subtype_id, x, y, end_x, end_y, tags, match=1, period="1H"):
    return (event_id, match, period, second, team, player, type_id, subtype_id, x, y, end_x, end_y, tags)


class TestActions:
    def test_a_touch_then_his_own_next_action_is_a_carry_from_the_touch_start_to_its_end(self):
        actions = list(
            iter_actions(
                [
                    row(1, 1.0, 5, 100, 8, 85, 30, 50, 50, 40, "1801"),
                    row(2, 2.0, 5, 101, 7, 72, 50, 40, 65, 45, ""),
                    row(3, 4.0, 5, 101, 8, 85, 65, 45, 80, 50, "1801"),
                ]
            )
        )
        assert actions[0] == Move(PASS, True, 1, 1, "1H", 1.0, 5, 100, 30, 50, 50, 40)
        assert actions[1] == Move(CARRY, True, 2, 1, "1H", 2.0, 5, 101, 50, 40, 65, 45)
        assert actions[2].kind == PASS and actions[2].player_id == 101
        assert len(actions) == 3

    def test_a_won_take_on_is_a_carry_despite_the_opponents_record_of_the_duel(self):
        actions = list(
            iter_actions(
                [
                    row(1, 1.0, 5, 100, 1, 11, 40, 50, 55, 52, "703,1801"),
                    row(2, 1.0, 6, 200, 1, 12, 60, 50, 45, 48, "701,1802"),
                    row(3, 3.0, 5, 100, 8, 85, 55, 52, 70, 50, "1801"),
                ]
            )
        )
        assert [(a.kind, a.player_id, a.successful) for a in actions] == [
            (CARRY, 100, True),
            (PASS, 100, True),
        ]
        assert (actions[0].x, actions[0].end_x) == (40, 55)

    def test_no_carry_when_someone_else_acts_next_after_a_pause_or_a_short_step(self):
        cases = [
            # the next action is a team-mate's: the touch was a pass-on, not a run
            [
                row(1, 1.0, 5, 100, 7, 72, 40, 50, 55, 50, ""),
                row(2, 2.0, 5, 101, 8, 85, 55, 50, 70, 50, "1801"),
            ],
            # the opponent's own action (not his record of a duel) comes next
            [
                row(1, 1.0, 5, 100, 7, 72, 40, 50, 55, 50, ""),
                row(2, 2.0, 6, 200, 8, 85, 45, 50, 70, 50, "1801"),
            ],
            # too long a pause
            [
                row(1, 1.0, 5, 100, 7, 72, 40, 50, 55, 50, ""),
                row(2, 30.0, 5, 100, 8, 85, 55, 50, 70, 50, "1801"),
            ],
            # less than 3 m: the same spot, give or take a coordinate unit
            [
                row(1, 1.0, 5, 100, 7, 72, 40, 50, 41, 51, ""),
                row(2, 2.0, 5, 100, 8, 85, 41, 51, 70, 50, "1801"),
            ],
            # another match
            [
                row(1, 1.0, 5, 100, 7, 72, 40, 50, 55, 50, ""),
                row(2, 2.0, 5, 100, 8, 85, 55, 50, 70, 50, "1801", match=2),
            ],
        ]
        for rows in cases:
            assert [a.kind for a in iter_actions(rows)] == [PASS], rows

    def test_accelerations_lost_take_ons_shots_and_shootouts(self):
        actions = list(
            iter_actions(
                [
                    row(1, 1.0, 5, 100, 7, 70, 40, 50, 60, 50, "1801"),
                    row(2, 2.0, 5, 100, 1, 11, 60, 50, 66, 50, "701,1802"),
                    row(3, 3.0, 5, 100, 7, 70, 40, 50, 60, 50, "1802"),
                    row(4, 4.0, 5, 100, 10, 100, 88, 50, 0, 0, "101,403"),
                    row(5, 1.0, 5, 100, 3, 35, 89, 50, 100, 100, "101", period="P"),
                    row(6, 2.0, 5, 100, 10, 100, 88, 50, 0, 0, "101", period="P"),
                ]
            )
        )
        assert actions[0] == Move(CARRY, True, 1, 1, "1H", 1.0, 5, 100, 40, 50, 60, 50)
        assert [(a.kind, a.successful) for a in actions[1:3]] == [(CARRY, False), (CARRY, False)]
        assert actions[3] == OpenPlayShot(88, 50, True)
        assert len(actions) == 4


def _forward_flow_counts() -> XtCounts:
    """Moves carry the ball one zone toward goal; shots only from the last four columns, better closer."""
    counts = XtCounts.empty(XT_GRID_X, XT_GRID_Y)
    n_y = XT_GRID_Y
    for i in range(XT_GRID_X):
        for j in range(XT_GRID_Y):
            zone = i * n_y + j
            counts.move_attempts[zone] = 100
            target = min(i + 1, XT_GRID_X - 1) * n_y + j
            counts.transitions[zone, target] = 70  # 30% of moves lost
            if i >= XT_GRID_X - 4:
                counts.shots[zone] = 20
                counts.goals[zone] = 2 * (i - (XT_GRID_X - 5))
    return counts


def test_values_increase_toward_goal_and_moves_forward_add_value():
    values, iterations = solve_xt(_forward_flow_counts())
    assert iterations > 1
    middle = XT_GRID_Y // 2
    assert all(np.diff(values[:, middle]) > 0)
    grid = XtGrid(values)
    forward, backward = grid.value_added([(30, 50, 80, 50), (80, 50, 30, 50)])
    assert forward > 0 > backward
    assert forward == pytest.approx(-backward)
    # x=100 and y=100 are inside the last zone, not past it.
    assert grid.value_at([100], [100])[0] == values[-1, -1]


def test_value_added_needs_both_ends():
    grid = XtGrid(np.zeros((XT_GRID_X, XT_GRID_Y)))
    with pytest.raises(ValueError, match="1 move"):
        grid.value_added([(30, 50, None, None)])
    assert grid.value_added([]).shape == (0,)


@pytest.fixture
def synthetic_matches():
    """Three matches of possessions that advance by passes and carries and end in a shot or a loss."""
    rng = np.random.default_rng(11)
    players = [PlayerFactory() for _ in range(4)]
    matches = [MatchFactory() for _ in range(3)]
    events = []
    next_id = iter(range(9_700_000_000, 9_800_000_000))
    for match in matches:
        second = 0.0
        for _ in range(150):
            x, y = int(rng.integers(10, 40)), int(rng.integers(20, 80))
            holder = 0
            while True:
                second += 2.0
                if x >= 75:
                    goal = rng.random() < (x - 70) / 40
                    tags = "101,402,1801" if goal else "402,1802"
                    events.append((next(next_id), match, second, players[holder], 10, 100, x, y, 0, 0, tags))
                    break
                end_x, end_y = (
                    min(x + int(rng.integers(5, 20)), 99),
                    int(np.clip(y + rng.integers(-10, 11), 1, 99)),
                )
                accurate = rng.random() < 0.8
                events.append(
                    (
                        next(next_id),
                        match,
                        second,
                        players[holder],
                        8,
                        85,
                        x,
                        y,
                        end_x,
                        end_y,
                        "1801" if accurate else "1802",
                    )
                )
                if not accurate:
                    break
                holder = (holder + 1) % len(players)
                x, y = end_x, end_y
                # The receiver often runs with the ball: Wyscout records it as his touch.
                if rng.random() < 0.5:
                    second += 1.0
                    run_x = min(x + int(rng.integers(4, 12)), 99)
                    events.append((next(next_id), match, second, players[holder], 7, 72, x, y, run_x, y, ""))
                    x = run_x
            second += 5.0
    Event.objects.bulk_create(
        Event(
            id=event_id,
            match_id=match.id,
            team_id=match.home_team_id,
            player_id=player.id,
            type_id=type_id,
            subtype_id=subtype_id,
            period="1H",
            second=second,
            x=x,
            y=y,
            end_x=end_x,
            end_y=end_y,
            tags=tags,
        )
        for event_id, match, second, player, type_id, subtype_id, x, y, end_x, end_y, tags in events
    )
    return matches, players, len(events)


@pytest.mark.django_db
@pytest.mark.mysql
def test_load_before_any_fit_and_fit_without_events():
    with pytest.raises(
        ModelNotFittedError, match=r"expected-threat grid not fitted yet: run manage\.py refresh_analytics"
    ):
        load_current_xt()
    with pytest.raises(FitError, match="not enough events"):
        fit_xt()
    assert not FittedModel.objects.exists()


@pytest.mark.django_db
@pytest.mark.mysql
def test_fit_on_synthetic_play(synthetic_matches):
    _, _, n_events = synthetic_matches
    fitted = fit_xt()
    assert fitted.kind == "xt" and len(fitted.version) == 64
    assert fitted.metrics["events"] == n_events
    assert fitted.metrics["carries"] > 0
    grid = load_current_xt()
    assert grid.version == fitted.version
    assert (grid.nx, grid.ny) == (XT_GRID_X, XT_GRID_Y)
    # Averaged over the width, value grows toward the goal attacked.
    by_column = grid.values.mean(axis=1)
    assert by_column[-1] > by_column[XT_GRID_X // 2] > by_column[1]
    assert grid.value_added([(30, 50, 85, 50)])[0] > 0
    # Refitting the same data is the same version, and the grid is still the current one.
    assert fit_xt().version == fitted.version
    assert FittedModel.objects.filter(kind="xt").count() == 1


@pytest.mark.django_db
@pytest.mark.mysql
def test_streaming_in_small_batches_reads_the_same_rows_and_sums_per_player_match(synthetic_matches):
    matches, players, n_events = synthetic_matches
    ids = [m.id for m in matches]
    one_by_one = list(iter_event_rows(ids, batch=1))
    assert one_by_one == list(iter_event_rows(ids, batch=100))
    assert len(one_by_one) == n_events
    grid = XtGrid.from_fitted(fit_xt())
    totals = xt_added_by_player_match(grid, ids)
    moves = [a for a in iter_actions(one_by_one) if isinstance(a, Move) and a.successful]
    expected = {}
    for move, value in zip(
        moves, grid.value_added([(m.x, m.y, m.end_x, m.end_y) for m in moves]), strict=True
    ):
        key = (move.player_id, move.match_id)
        expected[key] = expected.get(key, 0.0) + value
    assert totals.keys() == expected.keys()
    assert {(p.id, m.id) for p in players for m in matches} == set(totals)
    for key, value in expected.items():
        assert totals[key] == pytest.approx(value)
    # A possession moves the ball forward, so on the whole players add threat.
    assert sum(totals.values()) > 0
