"""The expected-goals model: the probability that a shot is a goal, from where and how it was taken.

A logistic regression fitted on every shot of the football database:
open-play shots (eventId 10), direct free-kick shots (subEventId 33) and
penalties (subEventId 35); a goal is tag 101; penalty shoot-outs (period P)
are left out because they are not part of a player's record.

Features of a non-penalty shot, with Wyscout's percent coordinates turned
into metres on a 105 x 68 pitch (the goal attacked is at x=100, y=50):
distance to the goal centre, the angle the goal mouth subtends, a header
(tag 403, head or other body part), a direct free kick, a counter attack
(tag 1901). A penalty is always taken from the same spot, so it gets its own
intercept and no location terms: its prediction is the (lightly
regularised) conversion rate of penalties in the data.

Fitted with scipy's L-BFGS on the L2-regularised log loss: a handful of
features needs no scikit-learn, and the parameters stay readable in
FittedModel.parameters. docs/models.md has the method and the evaluation.
"""

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from django.db.models import Q
from scipy.special import expit

from football import tags as wyscout
from football.models import Event, FittedModel
from football.selectors import current_fitted_model, data_version

from . import FitError, ModelNotFittedError
from .pinned import pinned_version

PITCH_LENGTH_M = 105.0
PITCH_WIDTH_M = 68.0
GOAL_WIDTH_M = 7.32

# Weight of the L2 penalty on the (standardised) slope coefficients. Small:
# tens of thousands of shots pin the slopes down; it only keeps a tiny or
# degenerate fitting set (one situation without goals) from diverging.
XG_L2 = 1.0
# Share of shots held out to evaluate the model, and the seed that picks them,
# so that two fits on the same data report the same figures.
XG_HOLDOUT_FRACTION = 0.2
XG_SPLIT_SEED = 20180715
# Bins of the calibration table (deciles of the predicted xG).
XG_CALIBRATION_BINS = 10

FEATURES = ("distance_m", "angle_rad", "header", "free_kick", "counter_attack")
# Continuous features are standardised with the fitting set's mean and spread.
CONTINUOUS = ("distance_m", "angle_rad")

SHOT_FIELDS = ("x", "y", "subtype_id", "tags")
# (x, y, subtype_id, tags) as stored on Event.
Shot = tuple[int | None, int | None, int | None, str]


def shot_filter() -> Q:
    """The events that are shots for the model and for a player's record (shoot-outs excluded)."""
    return (
        Q(type_id=wyscout.SHOT)
        | Q(type_id=wyscout.FREE_KICK, subtype_id__in=(wyscout.FREE_KICK_SHOT, wyscout.PENALTY))
    ) & ~Q(period="P")


def is_goal(tags: str) -> bool:
    return wyscout.GOAL in wyscout.parse(tags)


def shot_geometry(x: float, y: float) -> tuple[float, float]:
    """Distance (m) to the goal centre and the angle (radians) between the posts, seen from (x, y)."""
    dx = (100.0 - x) * PITCH_LENGTH_M / 100.0
    dy = abs(50.0 - y) * PITCH_WIDTH_M / 100.0
    distance = math.hypot(dx, dy)
    half = GOAL_WIDTH_M / 2
    angle = math.atan2(GOAL_WIDTH_M * dx, dx * dx + dy * dy - half * half)
    if angle < 0:  # beyond the goal line's extension: the far side of the atan2 branch
        angle += math.pi
    return distance, angle


@dataclass(frozen=True)
class ShotFeatures:
    """The raw features of a set of shots, one array per feature, and which are penalties."""

    columns: dict[str, np.ndarray]
    penalty: np.ndarray  # bool
    # Shots with no position (rare in the data): predicted at the open-play base rate.
    unplaced: np.ndarray  # bool


def shot_features(shots: Sequence[Shot]) -> ShotFeatures:
    n = len(shots)
    cols = {name: np.zeros(n) for name in FEATURES}
    penalty = np.zeros(n, dtype=bool)
    unplaced = np.zeros(n, dtype=bool)
    for i, (x, y, subtype_id, tag_string) in enumerate(shots):
        if subtype_id == wyscout.PENALTY:
            penalty[i] = True
            continue
        if x is None or y is None:
            unplaced[i] = True
            continue
        tag_ids = wyscout.parse(tag_string)
        distance, angle = shot_geometry(x, y)
        cols["distance_m"][i] = distance
        cols["angle_rad"][i] = angle
        cols["header"][i] = wyscout.HEAD_OR_BODY in tag_ids
        cols["free_kick"][i] = subtype_id == wyscout.FREE_KICK_SHOT
        cols["counter_attack"][i] = wyscout.COUNTER_ATTACK in tag_ids
    return ShotFeatures(columns=cols, penalty=penalty, unplaced=unplaced)


def _design(features: ShotFeatures, scale: dict[str, tuple[float, float]]) -> np.ndarray:
    """Columns: open-play intercept, the FEATURES (standardised where continuous), penalty intercept.

    Non-penalty features are zero on penalty rows, so a penalty's logit is its own intercept alone.
    """
    open_play = (~features.penalty).astype(float)
    columns = [open_play]
    for name in FEATURES:
        values = features.columns[name]
        if name in scale:
            mean, std = scale[name]
            values = (values - mean) / std
        columns.append(values * open_play)
    columns.append(features.penalty.astype(float))
    return np.column_stack(columns)


def _fit_logistic(design: np.ndarray, goals: np.ndarray, l2: float) -> np.ndarray:
    # Intercepts (first and last column) are not shrunk: only the slopes are.
    shrink = np.ones(design.shape[1])
    shrink[0] = shrink[-1] = 0.0

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ w
        loss = np.sum(np.logaddexp(0.0, z) - goals * z) + 0.5 * l2 * np.sum(shrink * w * w)
        gradient = design.T @ (expit(z) - goals) + l2 * shrink * w
        return float(loss), gradient

    # Imported here: only a fit needs it, and it costs every process that reads the model 0.2 s to import.
    from scipy.optimize import minimize

    result = minimize(loss_and_gradient, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B")
    if not result.success and not np.all(np.isfinite(result.x)):
        raise FitError(f"expected-goals fit did not converge: {result.message}")
    return result.x


class XgModel:
    """A fitted expected-goals model; `predict` gives one probability per shot."""

    def __init__(self, parameters: dict, version: str = ""):
        self.parameters = parameters
        self.version = version
        self._scale = {name: tuple(v) for name, v in parameters["scale"].items()}
        coefficients = parameters["coefficients"]
        self._weights = np.array(
            [coefficients["open_play_intercept"]]
            + [coefficients[name] for name in FEATURES]
            + [coefficients["penalty_intercept"]]
        )
        self._unplaced_rate = float(parameters["open_play_base_rate"])

    @classmethod
    def from_fitted(cls, fitted: FittedModel) -> "XgModel":
        if fitted.kind != FittedModel.Kind.EXPECTED_GOALS:
            raise ValueError(f"fitted model {fitted.pk} is a {fitted.kind!r} model, not expected goals")
        return cls(fitted.parameters, fitted.version)

    def predict(self, shots: Sequence[Shot]) -> np.ndarray:
        """xG of each shot, given as (x, y, subtype_id, tags) tuples as stored on Event."""
        if len(shots) == 0:
            return np.zeros(0)
        features = shot_features(shots)
        probabilities = expit(_design(features, self._scale) @ self._weights)
        probabilities[features.unplaced] = self._unplaced_rate
        return probabilities


def load_current_xg() -> XgModel:
    """The expected-goals model pinned for the running report section (football.analytics.pinned), else the newest."""
    version = pinned_version(FittedModel.Kind.EXPECTED_GOALS)
    if version is not None:
        if not version:
            raise ModelNotFittedError("expected-goals model not fitted when this report was created")
        return load_xg(version)
    fitted = current_fitted_model(FittedModel.Kind.EXPECTED_GOALS)
    if fitted is None:
        raise ModelNotFittedError("expected-goals model not fitted yet: run manage.py refresh_analytics")
    return XgModel.from_fitted(fitted)


# Versions name their parameters (a hash of them and the data), so a loaded
# version never changes: cached per process, a section pays no query for it.
@lru_cache(maxsize=8)
def load_xg(version: str) -> XgModel:
    """The expected-goals model of exactly this version."""
    fitted = FittedModel.objects.filter(kind=FittedModel.Kind.EXPECTED_GOALS, version=version).first()
    if fitted is None:
        raise ModelNotFittedError(
            f"expected-goals model {version[:12]} is no longer stored: create the report again"
        )
    return XgModel.from_fitted(fitted)


def _calibration_table(predicted: np.ndarray, goals: np.ndarray, bins: int) -> list[dict]:
    order = np.argsort(predicted, kind="stable")
    table = []
    for chunk in np.array_split(order, bins):
        if len(chunk) == 0:
            continue
        table.append(
            {
                "shots": len(chunk),
                "xg_min": round(float(predicted[chunk].min()), 4),
                "xg_max": round(float(predicted[chunk].max()), 4),
                "mean_xg": round(float(predicted[chunk].mean()), 4),
                "goal_rate": round(float(goals[chunk].mean()), 4),
            }
        )
    return table


def _scores(predicted: np.ndarray, goals: np.ndarray) -> dict:
    clipped = np.clip(predicted, 1e-12, 1 - 1e-12)
    base_rate = float(goals.mean()) if len(goals) else 0.0
    return {
        "shots": len(goals),
        "goals": int(goals.sum()),
        "log_loss": round(float(-np.mean(goals * np.log(clipped) + (1 - goals) * np.log(1 - clipped))), 5),
        "brier": round(float(np.mean((predicted - goals) ** 2)), 5),
        # What a model that knows only the overall goal rate scores: the bar to beat.
        "brier_base_rate": round(float(np.mean((base_rate - goals) ** 2)), 5),
        "mean_xg": round(float(predicted.mean()), 5),
        "goal_rate": round(base_rate, 5),
    }


def _fit_parameters(features: ShotFeatures, goals: np.ndarray, rows: np.ndarray) -> dict:
    """Parameters fitted on the shots `rows` (indices) of `features`."""
    subset = ShotFeatures(
        columns={name: values[rows] for name, values in features.columns.items()},
        penalty=features.penalty[rows],
        unplaced=features.unplaced[rows],
    )
    located = ~subset.penalty & ~subset.unplaced
    if not located.any():
        raise FitError("no open-play or free-kick shot with a position to fit the expected-goals model on")
    scale = {}
    for name in CONTINUOUS:
        values = subset.columns[name][located]
        std = float(values.std()) or 1.0
        scale[name] = (round(float(values.mean()), 6), round(std, 6))
    subset_goals = goals[rows]
    fitted_rows = ~subset.unplaced
    design = _design(subset, scale)[fitted_rows]
    weights = _fit_logistic(design, subset_goals[fitted_rows], XG_L2)
    names = ["open_play_intercept", *FEATURES, "penalty_intercept"]
    open_play = ~subset.penalty
    return {
        "features": list(FEATURES),
        "scale": {name: list(v) for name, v in scale.items()},
        "coefficients": {name: round(float(w), 6) for name, w in zip(names, weights, strict=True)},
        "open_play_base_rate": round(float(subset_goals[open_play].mean()) if open_play.any() else 0.0, 6),
        "l2": XG_L2,
        "pitch_m": [PITCH_LENGTH_M, PITCH_WIDTH_M],
    }


def load_shots() -> tuple[list[Shot], np.ndarray]:
    """Every shot of the database, as (x, y, subtype_id, tags), and whether each was a goal."""
    shots: list[Shot] = []
    goals: list[bool] = []
    queryset = Event.objects.filter(shot_filter()).order_by("id").values_list(*SHOT_FIELDS)
    for x, y, subtype_id, tag_string in queryset.iterator(chunk_size=10_000):
        shots.append((x, y, subtype_id, tag_string))
        goals.append(is_goal(tag_string))
    return shots, np.array(goals, dtype=float)


def model_version(kind: str, parameters: dict, data: str) -> str:
    payload = json.dumps({"kind": kind, "parameters": parameters, "data": data}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def save_fitted_model(*, kind: str, parameters: dict, metrics: dict, data: str) -> FittedModel:
    """Stores a fit as the current model of its kind.

    The version hashes the parameters and the data version, so refitting the same
    data gives the same version: that row is replaced, which makes it the newest
    (current) again, instead of leaving an older fit of other data on top.
    """
    version = model_version(kind, parameters, data)
    FittedModel.objects.filter(kind=kind, version=version).delete()
    return FittedModel.objects.create(
        kind=kind, version=version, data_version=data, parameters=parameters, metrics=metrics
    )


def fit_xg() -> FittedModel:
    """Fits the expected-goals model on all shots, evaluates it on a held-out split, and stores it."""
    started = time.monotonic()
    data = data_version()
    shots, goals = load_shots()
    if len(shots) == 0:
        raise FitError("no shots in the football database: import the data first (manage.py import_wyscout)")
    if goals.sum() == 0:
        raise FitError(f"none of the {len(shots)} shots in the football database is a goal: cannot fit xG")
    loaded = time.monotonic()
    features = shot_features(shots)

    # Evaluation: fit on 80% of the shots, score the other 20%.
    rng = np.random.default_rng(XG_SPLIT_SEED)
    order = rng.permutation(len(shots))
    n_test = max(1, round(len(shots) * XG_HOLDOUT_FRACTION)) if len(shots) >= 10 else 0
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    evaluation: dict = {}
    if n_test:
        held_out = XgModel(_fit_parameters(features, goals, train))
        test_shots = [shots[i] for i in test]
        predicted = held_out.predict(test_shots)
        evaluation = {
            **_scores(predicted, goals[test]),
            "train_shots": len(train),
            "calibration": _calibration_table(predicted, goals[test], XG_CALIBRATION_BINS),
        }

    # The model in use is fitted on every shot.
    parameters = _fit_parameters(features, goals, np.arange(len(shots)))
    model = XgModel(parameters)
    predicted_all = model.predict(shots)
    by_situation = {}
    situations = {
        "open_play": ~features.penalty & (features.columns["free_kick"] == 0),
        "direct_free_kick": features.columns["free_kick"] == 1,
        "penalty": features.penalty,
        "header": features.columns["header"] == 1,
    }
    for name, mask in situations.items():
        by_situation[name] = {
            "shots": int(mask.sum()),
            "goals": int(goals[mask].sum()),
            "goal_rate": round(float(goals[mask].mean()), 4) if mask.any() else None,
            "mean_xg": round(float(predicted_all[mask].mean()), 4) if mask.any() else None,
        }
    metrics = {
        "held_out": evaluation,
        "in_sample": _scores(predicted_all, goals),
        "by_situation": by_situation,
        "holdout_fraction": XG_HOLDOUT_FRACTION,
        "split_seed": XG_SPLIT_SEED,
        "load_seconds": round(loaded - started, 2),
        "fit_seconds": round(time.monotonic() - started, 2),
    }
    return save_fitted_model(
        kind=FittedModel.Kind.EXPECTED_GOALS, parameters=parameters, metrics=metrics, data=data
    )
