"""The possession-value model: what each on-ball action does to the chances of scoring and conceding.

VAEP-style (Decroos et al., "Actions Speak Louder than Goals: Valuing Player
Actions in Soccer", KDD 2019), fitted on every event of the football database
with scikit-learn's histogram gradient boosting (socceraction itself does not
install beside numpy 2). For every action a_i of team T:

- features of the game state: a_i and the two actions before it (their kind,
  start and end in T's attacking frame, whether each succeeded, whether it was
  T's, the time since it), and where a_i starts and ends relative to the goal;
- two classifiers: P(T scores within the next VAEP_LOOKAHEAD actions),
  P(T concedes within the next VAEP_LOOKAHEAD actions), a_i included;
- the value of a_i: (P_score(a_i) - P_score(a_i-1)) - (P_concede(a_i) -
  P_concede(a_i-1)), the previous state seen from T's side (scoring and
  conceding swap when a_i-1 was the opponent's). The first action of a period
  and the kick-off after a goal are worth 0 (there is no state before them).

Actions: every event with a player except interruptions, offsides and the
shoot-out (period P). A goal is the goal tag (101) on a shot or set piece; an
own goal (tag 102) is a goal for the other team. Wyscout's coordinates are
already in the acting team's frame; an opponent's earlier action is mirrored
into T's.

Stored as a FittedModel of kind "vaep": the two classifiers pickled (they
load only under the pinned scikit-learn version, checked on load), the
feature names, and the held-out evaluation. docs/models.md has the method and
the figures.
"""

import base64
import math
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from football import tags as wyscout
from football.models import FittedModel, Match
from football.selectors import current_fitted_model, data_version

from . import FitError, ModelNotFittedError
from .pinned import pinned_version
from .xg import save_fitted_model
from .xt import MOVE_EVENT_FIELDS, XT_MATCH_BATCH, iter_event_rows

# The labels look this many actions ahead (the action itself included), as in the VAEP paper.
VAEP_LOOKAHEAD = 10
# Share of matches held out to evaluate the model, and the seed that picks them.
VAEP_HOLDOUT_FRACTION = 0.2
VAEP_SPLIT_SEED = 20180715
# Gradient boosting: 100 trees of 31 leaves; about a minute of CPU per classifier on ~2.5 million actions.
VAEP_BOOSTING = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 200,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 20180715,
}
# OpenMP threads for fitting and predicting. One: on a machine whose cores are
# busy with other work, scikit-learn's OpenMP threads spin-wait for each other
# (measured: 40 matches fitted in 1.7 s with one thread, 19 s with two under a
# load of 16), and the workers already run one process per core.
VAEP_THREADS = 1
# How many of a player's most valuable actions the aggregates keep per season row.
VAEP_TOP_ACTIONS = 10

_I = {name: i for i, name in enumerate(MOVE_EVENT_FIELDS)}
NOT_ACTIONS = frozenset({wyscout.INTERRUPTION, wyscout.OFFSIDE})

# Kinds of action (a categorical feature): by subEventId where it matters, else by eventId.
ACTION_KINDS: dict[tuple[int, int | None], int] = {
    (wyscout.PASS, wyscout.CROSS): 1,
    (wyscout.PASS, wyscout.HIGH_PASS): 2,
    (wyscout.PASS, wyscout.LAUNCH): 2,
    (wyscout.PASS, wyscout.HEAD_PASS): 3,
    (wyscout.PASS, wyscout.SMART_PASS): 4,
    (wyscout.SHOT, None): 5,
    (wyscout.FREE_KICK, wyscout.FREE_KICK_PLAIN): 6,
    (wyscout.FREE_KICK, wyscout.FREE_KICK_CROSS): 7,
    (wyscout.FREE_KICK, wyscout.FREE_KICK_SHOT): 8,
    (wyscout.FREE_KICK, wyscout.PENALTY): 9,
    (wyscout.FREE_KICK, wyscout.CORNER): 10,
    (wyscout.FREE_KICK, wyscout.THROW_IN): 11,
    (wyscout.FREE_KICK, wyscout.GOAL_KICK): 12,
    (wyscout.DUEL, wyscout.AIR_DUEL): 13,
    (wyscout.DUEL, wyscout.GROUND_ATTACKING_DUEL): 14,
    (wyscout.DUEL, wyscout.GROUND_DEFENDING_DUEL): 15,
    (wyscout.DUEL, wyscout.GROUND_LOOSE_BALL_DUEL): 16,
    (wyscout.OTHERS_ON_THE_BALL, wyscout.ACCELERATION): 17,
    (wyscout.OTHERS_ON_THE_BALL, wyscout.CLEARANCE): 18,
    (wyscout.OTHERS_ON_THE_BALL, wyscout.TOUCH): 19,
    (wyscout.SAVE_ATTEMPT, None): 20,
    (wyscout.GOALKEEPER_LEAVING_LINE, None): 21,
    (wyscout.FOUL, None): 22,
}
OTHER_KIND, PASS_KIND = 23, 0
PERIODS = {"1H": 0, "2H": 1, "E1": 2, "E2": 3}

# The features, in column order. a0 is the action valued, a1 and a2 the two before it.
_HISTORY = ("kind", "x", "y", "end_x", "end_y", "success", "same_team", "seconds_before")
FEATURES = (
    "a0_kind",
    "a0_x",
    "a0_y",
    "a0_end_x",
    "a0_end_y",
    "a0_success",
    "a0_header",
    "a0_distance_m",
    "a0_angle",
    "a0_end_distance_m",
    "a0_end_angle",
    "a0_length_m",
    "period",
    "minute",
    *(f"a{k}_{name}" for k in (1, 2) for name in _HISTORY),
)
CATEGORICAL = ("a0_kind", "a1_kind", "a2_kind")


def action_kind(type_id: int, subtype_id: int | None) -> int:
    kind = ACTION_KINDS.get((type_id, subtype_id))
    if kind is None:
        kind = ACTION_KINDS.get((type_id, None), PASS_KIND if type_id == wyscout.PASS else OTHER_KIND)
    return kind


@dataclass
class Actions:
    """The actions of some whole matches, in match order, as arrays (one element per action)."""

    event_id: np.ndarray
    match_id: np.ndarray
    team_id: np.ndarray
    player_id: np.ndarray
    period: np.ndarray  # PERIODS code
    second: np.ndarray
    kind: np.ndarray
    x: np.ndarray
    y: np.ndarray
    end_x: np.ndarray
    end_y: np.ndarray
    success: np.ndarray  # 1 accurate / won / scored, 0 not accurate / lost, 0.5 neither
    header: np.ndarray
    goal: np.ndarray  # +1: the actor's team scored with it, -1: an own goal, 0: no goal

    def __len__(self) -> int:
        return len(self.event_id)


def actions_of(rows: Sequence[tuple]) -> Actions:
    """The actions among event rows (MOVE_EVENT_FIELDS, whole matches, ordered by match, period, second, id)."""
    columns: dict[str, list] = {name: [] for name in Actions.__dataclass_fields__}
    for row in rows:
        player_id, type_id, period = row[_I["player_id"]], row[_I["type_id"]], row[_I["period"]]
        if player_id is None or type_id in NOT_ACTIONS or period not in PERIODS:
            continue
        subtype_id = row[_I["subtype_id"]]
        tag_ids = wyscout.parse(row[_I["tags"]])
        x, y = row[_I["x"]], row[_I["y"]]
        end_x, end_y = row[_I["end_x"]], row[_I["end_y"]]
        scored = (
            wyscout.GOAL in tag_ids
            and wyscout.OWN_GOAL not in tag_ids
            and type_id in (wyscout.SHOT, wyscout.FREE_KICK)
        )
        shot = type_id == wyscout.SHOT or (
            type_id == wyscout.FREE_KICK and subtype_id in (wyscout.FREE_KICK_SHOT, wyscout.PENALTY)
        )
        if shot:
            # A shot succeeds when it scores, as in SPADL: Wyscout's "accurate" on a shot means on
            # target, saved or not, and taken as success it made every saved shot look like a
            # near-goal that the keeper's save then "undid" (keepers topped the value tables).
            success = 1.0 if scored else 0.0
        elif scored or wyscout.ACCURATE in tag_ids or wyscout.WON in tag_ids:
            success = 1.0
        elif wyscout.NOT_ACCURATE in tag_ids or wyscout.LOST in tag_ids:
            success = 0.0
        else:
            success = 0.5
        columns["event_id"].append(row[_I["id"]])
        columns["match_id"].append(row[_I["match_id"]])
        columns["team_id"].append(row[_I["team_id"]])
        columns["player_id"].append(player_id)
        columns["period"].append(PERIODS[period])
        columns["second"].append(row[_I["second"]])
        columns["kind"].append(action_kind(type_id, subtype_id))
        columns["x"].append(math.nan if x is None else x)
        columns["y"].append(math.nan if y is None else y)
        # Wyscout gives no end to most non-moves: the ball stays where the action was.
        columns["end_x"].append(columns["x"][-1] if end_x is None else end_x)
        columns["end_y"].append(columns["y"][-1] if end_y is None else end_y)
        columns["success"].append(success)
        columns["header"].append(wyscout.HEAD_OR_BODY in tag_ids)
        columns["goal"].append(1 if scored else -1 if wyscout.OWN_GOAL in tag_ids else 0)
    dtypes = {"event_id": np.int64, "match_id": np.int64, "team_id": np.int64, "player_id": np.int64}
    return Actions(
        **{
            name: np.asarray(values, dtype=dtypes.get(name, np.float64 if name != "kind" else np.int16))
            for name, values in columns.items()
        }
    )


def _polar(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) to the goal attacked and the absolute angle off its axis, from percent coordinates."""
    dx = (100.0 - x) * 1.05
    dy = (50.0 - y) * 0.68
    return np.hypot(dx, dy), np.abs(np.arctan2(dy, dx))


def features(actions: Actions) -> np.ndarray:
    """The FEATURES matrix (float32), one row per action; history outside the action's period is missing."""
    n = len(actions)
    out = np.full((n, len(FEATURES)), np.nan, dtype=np.float32)
    column = {name: i for i, name in enumerate(FEATURES)}
    out[:, column["a0_kind"]] = actions.kind
    out[:, column["a0_x"]] = actions.x
    out[:, column["a0_y"]] = actions.y
    out[:, column["a0_end_x"]] = actions.end_x
    out[:, column["a0_end_y"]] = actions.end_y
    out[:, column["a0_success"]] = actions.success
    out[:, column["a0_header"]] = actions.header
    distance, angle = _polar(actions.x, actions.y)
    end_distance, end_angle = _polar(actions.end_x, actions.end_y)
    out[:, column["a0_distance_m"]] = distance
    out[:, column["a0_angle"]] = angle
    out[:, column["a0_end_distance_m"]] = end_distance
    out[:, column["a0_end_angle"]] = end_angle
    out[:, column["a0_length_m"]] = np.hypot(
        (actions.end_x - actions.x) * 1.05, (actions.end_y - actions.y) * 0.68
    )
    out[:, column["period"]] = actions.period
    out[:, column["minute"]] = actions.second / 60.0
    for k in (1, 2):
        if n <= k:
            continue
        now, before = slice(k, n), slice(0, n - k)
        same_period = (actions.match_id[now] == actions.match_id[before]) & (
            actions.period[now] == actions.period[before]
        )
        same_team = actions.team_id[now] == actions.team_id[before]
        rows = np.flatnonzero(same_period) + k
        earlier = rows - k
        mirror = ~same_team[same_period]

        out[rows, column[f"a{k}_kind"]] = actions.kind[earlier]
        for name in ("x", "y", "end_x", "end_y"):
            # An opponent's action, seen from the acting team's side: mirrored.
            seen = getattr(actions, name)[earlier].copy()
            seen[mirror] = 100.0 - seen[mirror]
            out[rows, column[f"a{k}_{name}"]] = seen
        out[rows, column[f"a{k}_success"]] = actions.success[earlier]
        out[rows, column[f"a{k}_same_team"]] = same_team[same_period]
        out[rows, column[f"a{k}_seconds_before"]] = actions.second[rows] - actions.second[earlier]
    return out


def labels(actions: Actions, lookahead: int = VAEP_LOOKAHEAD) -> tuple[np.ndarray, np.ndarray]:
    """(scores, concedes): whether the acting team scores / concedes within the next `lookahead` actions."""
    n = len(actions)
    scores = np.zeros(n, dtype=bool)
    concedes = np.zeros(n, dtype=bool)
    for j in range(lookahead):
        if n <= j:
            break
        now, later = slice(0, n - j), slice(j, n)
        same_match = actions.match_id[now] == actions.match_id[later]
        same_team = actions.team_id[now] == actions.team_id[later]
        goal = actions.goal[later]
        scores[now] |= same_match & (((goal == 1) & same_team) | ((goal == -1) & ~same_team))
        concedes[now] |= same_match & (((goal == -1) & same_team) | ((goal == 1) & ~same_team))
    return scores, concedes


def _new_classifier():
    # Imported here: only a fit needs the class (loading a fitted one unpickles it).
    from sklearn.ensemble import HistGradientBoostingClassifier

    categorical = [FEATURES.index(name) for name in CATEGORICAL]
    return HistGradientBoostingClassifier(categorical_features=categorical, **VAEP_BOOSTING)


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


class VaepModel:
    """A fitted possession-value model: `rate(actions)` gives each action's offensive and defensive value."""

    def __init__(self, parameters: dict, version: str = ""):
        if parameters.get("sklearn") != _sklearn_version():
            raise ModelNotFittedError(
                f"possession-value model {version[:12]} was fitted with scikit-learn "
                f"{parameters.get('sklearn')}, this is {_sklearn_version()}: run manage.py refresh_analytics"
            )
        if tuple(parameters["features"]) != FEATURES:
            raise ModelNotFittedError(
                f"possession-value model {version[:12]} has other features than this code: "
                "run manage.py refresh_analytics"
            )
        self.parameters = parameters
        self.version = version
        # The pickles are our own fits, read from our own database (never from user input).
        self._scores = pickle.loads(base64.b64decode(parameters["scores_model"]))
        self._concedes = pickle.loads(base64.b64decode(parameters["concedes_model"]))

    @classmethod
    def from_fitted(cls, fitted: FittedModel) -> "VaepModel":
        if fitted.kind != FittedModel.Kind.POSSESSION_VALUE:
            raise ValueError(f"fitted model {fitted.pk} is a {fitted.kind!r} model, not possession value")
        return cls(fitted.parameters, fitted.version)

    def probabilities(self, actions: Actions) -> tuple[np.ndarray, np.ndarray]:
        if len(actions) == 0:
            return np.zeros(0), np.zeros(0)
        from threadpoolctl import threadpool_limits

        matrix = features(actions)
        with threadpool_limits(VAEP_THREADS):
            return self._scores.predict_proba(matrix)[:, 1], self._concedes.predict_proba(matrix)[:, 1]

    def rate(self, actions: Actions) -> tuple[np.ndarray, np.ndarray]:
        """(offensive, defensive) value of each action; its VAEP value is their sum."""
        p_score, p_concede = self.probabilities(actions)
        return action_values(actions, p_score, p_concede)


def action_values(
    actions: Actions, p_score: np.ndarray, p_concede: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = len(actions)
    prev_score = p_score.copy()
    prev_concede = p_concede.copy()
    if n > 1:
        now, before = slice(1, n), slice(0, n - 1)
        follows = (
            (actions.match_id[now] == actions.match_id[before])
            & (actions.period[now] == actions.period[before])
            & (actions.goal[before] == 0)
        )
        same_team = actions.team_id[now] == actions.team_id[before]
        rows = np.flatnonzero(follows) + 1
        kept = same_team[follows]
        prev_score[rows] = np.where(kept, p_score[rows - 1], p_concede[rows - 1])
        prev_concede[rows] = np.where(kept, p_concede[rows - 1], p_score[rows - 1])
    return p_score - prev_score, -(p_concede - prev_concede)


def load_current_vaep() -> VaepModel:
    """The possession-value model pinned for the running report section, else the newest."""
    version = pinned_version(FittedModel.Kind.POSSESSION_VALUE)
    if version is not None:
        if not version:
            raise ModelNotFittedError("possession-value model not fitted when this report was created")
        return load_vaep(version)
    fitted = current_fitted_model(FittedModel.Kind.POSSESSION_VALUE)
    if fitted is None:
        raise ModelNotFittedError("possession-value model not fitted yet: run manage.py refresh_analytics")
    return load_vaep(fitted.version)


# A version names its parameters, so a loaded one never changes; unpickling costs ~0.1 s.
@lru_cache(maxsize=4)
def load_vaep(version: str) -> VaepModel:
    fitted = FittedModel.objects.filter(kind=FittedModel.Kind.POSSESSION_VALUE, version=version).first()
    if fitted is None:
        raise ModelNotFittedError(
            f"possession-value model {version[:12]} is no longer stored: create the report again"
        )
    return VaepModel.from_fitted(fitted)


def _scores(predicted: np.ndarray, outcome: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    base_rate = float(outcome.mean()) if len(outcome) else 0.0
    clipped = np.clip(predicted, 1e-12, 1 - 1e-12)
    both = 0 < outcome.sum() < len(outcome)
    return {
        "actions": len(outcome),
        "positives": int(outcome.sum()),
        "base_rate": round(base_rate, 5),
        "brier": round(float(np.mean((predicted - outcome) ** 2)), 5),
        # What a model that knows only the overall rate scores: the bar to beat.
        "brier_base_rate": round(float(np.mean((base_rate - outcome) ** 2)), 5),
        "log_loss": round(
            float(-np.mean(outcome * np.log(clipped) + (1 - outcome) * np.log(1 - clipped))), 5
        ),
        "roc_auc": round(float(roc_auc_score(outcome, predicted)), 4) if both else None,
        "mean_predicted": round(float(predicted.mean()), 5) if len(predicted) else None,
    }


def load_actions(match_ids: Sequence[int] | None = None) -> Actions:
    """The actions of the given matches (default: all), read XT_MATCH_BATCH matches a query."""
    if match_ids is None:
        match_ids = list(Match.objects.order_by("id").values_list("id", flat=True))
    parts: list[Actions] = []
    match_ids = sorted(match_ids)
    for start in range(0, len(match_ids), XT_MATCH_BATCH):
        parts.append(actions_of(list(iter_event_rows(match_ids[start : start + XT_MATCH_BATCH]))))
    return Actions(
        **{
            name: np.concatenate([getattr(part, name) for part in parts]) if parts else np.zeros(0)
            for name in Actions.__dataclass_fields__
        }
    )


def _fit_pair(matrix: np.ndarray, scores: np.ndarray, concedes: np.ndarray):
    from threadpoolctl import threadpool_limits

    if scores.all() or not scores.any() or concedes.all() or not concedes.any():
        raise FitError("the possession-value model needs actions both followed and not followed by goals")
    with threadpool_limits(VAEP_THREADS):
        return _new_classifier().fit(matrix, scores), _new_classifier().fit(matrix, concedes)


def _predict(classifier, matrix: np.ndarray) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(VAEP_THREADS):
        return classifier.predict_proba(matrix)[:, 1]


def fit_vaep() -> FittedModel:
    """Fits both classifiers on every action, evaluates a fit on 80% of the matches on the rest, stores it."""
    started = time.monotonic()
    data = data_version()
    actions = load_actions()
    if len(actions) == 0:
        raise FitError("no events in the football database: import the data first (manage.py import_wyscout)")
    loaded = time.monotonic()
    matrix = features(actions)
    scores, concedes = labels(actions)

    # Evaluation: fit on 80% of the matches, score the actions of the other 20%.
    matches = np.unique(actions.match_id)
    rng = np.random.default_rng(VAEP_SPLIT_SEED)
    n_test = round(len(matches) * VAEP_HOLDOUT_FRACTION) if len(matches) >= 5 else 0
    evaluation: dict = {}
    if n_test:
        test = np.isin(actions.match_id, rng.permutation(matches)[:n_test])
        held_scores, held_concedes = _fit_pair(matrix[~test], scores[~test], concedes[~test])
        evaluation = {
            "matches": int(n_test),
            "train_matches": int(len(matches) - n_test),
            "scores": _scores(_predict(held_scores, matrix[test]), scores[test]),
            "concedes": _scores(_predict(held_concedes, matrix[test]), concedes[test]),
        }
    evaluated = time.monotonic()

    scores_model, concedes_model = _fit_pair(matrix, scores, concedes)
    fitted_at = time.monotonic()
    p_score, p_concede = _predict(scores_model, matrix), _predict(concedes_model, matrix)
    offensive, defensive = action_values(actions, p_score, p_concede)
    parameters = {
        "features": list(FEATURES),
        "categorical": list(CATEGORICAL),
        "lookahead": VAEP_LOOKAHEAD,
        "boosting": VAEP_BOOSTING,
        "sklearn": _sklearn_version(),
        "scores_model": base64.b64encode(pickle.dumps(scores_model)).decode(),
        "concedes_model": base64.b64encode(pickle.dumps(concedes_model)).decode(),
    }
    metrics = {
        "held_out": evaluation,
        "in_sample": {"scores": _scores(p_score, scores), "concedes": _scores(p_concede, concedes)},
        "actions": len(actions),
        "matches": len(matches),
        "mean_value": round(float((offensive + defensive).mean()), 6),
        "goal_actions_mean_value": round(float((offensive + defensive)[actions.goal == 1].mean()), 4)
        if (actions.goal == 1).any()
        else None,
        "holdout_fraction": VAEP_HOLDOUT_FRACTION,
        "split_seed": VAEP_SPLIT_SEED,
        "load_seconds": round(loaded - started, 2),
        "evaluation_seconds": round(evaluated - loaded, 2),
        "fit_seconds": round(fitted_at - evaluated, 2),
        "seconds": round(time.monotonic() - started, 2),
    }
    return save_fitted_model(
        kind=FittedModel.Kind.POSSESSION_VALUE, parameters=parameters, metrics=metrics, data=data
    )
