"""Analytics fitted on, or derived from, the football events.

- `xg`: the expected-goals model (logistic regression on shot location, body part and situation).
- `xt`: the expected-threat grid (Karun Singh's move-and-shoot iteration over all events).

Both are stored as versioned `football.models.FittedModel` rows; the report
sections and the per-player aggregates load the current one.
"""


class ModelNotFittedError(LookupError):
    """A fitted artefact is asked for before it was ever fitted."""


class FitError(ValueError):
    """A model cannot be fitted on the data in the database (no data, no goals...)."""
