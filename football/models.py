"""The football database: the Wyscout public data set, with the source's ids as ids, and other
providers' matches imported through kloppy (ids in a range per provider, `provider` and `source_id`
on each row: football.importer.kloppy_import).

Pitch coordinates are Wyscout's: `x` and `y` in percent of the pitch (0-100),
seen from the attacking direction of the event's team, so x=100 is always the
goal the event's team attacks and y=0 its left touchline.
"""

from django.db import models


class Provider(models.TextChoices):
    """Where a row came from. `wyscout` is the public data set (ids are its wyIds);
    the others are imported through kloppy with ids in their own range (football.importer.kloppy_ids)."""

    WYSCOUT = "wyscout"
    STATSBOMB = "statsbomb"
    OPTA = "opta"
    WYSCOUT_V3 = "wyscout_v3"
    WYSCOUT_V2 = "wyscout_v2"
    SPORTEC = "sportec"


def _provider_field():
    return models.CharField(max_length=16, choices=Provider.choices, default=Provider.WYSCOUT, db_index=True)


def _source_id_field():
    # The provider's own id of an imported row (a string: Sportec's are "DFL-OBJ-..."); blank for
    # the Wyscout public data, whose ids are the source's.
    return models.CharField(max_length=64, blank=True, default="")


class Role(models.TextChoices):
    GOALKEEPER = "GK", "Goalkeeper"
    DEFENDER = "DF", "Defender"
    MIDFIELDER = "MD", "Midfielder"
    FORWARD = "FW", "Forward"


class Competition(models.Model):
    class Kind(models.TextChoices):
        LEAGUE = "league"
        TOURNAMENT = "tournament"

    id = models.IntegerField(primary_key=True, help_text="Wyscout competitionId")
    name = models.CharField(max_length=100)
    area = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Hash of the imported content of this competition; the data version is
    # derived from these (see football.selectors.data_version).
    data_hash = models.CharField(max_length=64, blank=True)
    provider = _provider_field()
    source_id = _source_id_field()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Season(models.Model):
    id = models.IntegerField(primary_key=True, help_text="Wyscout seasonId")
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="seasons")
    name = models.CharField(max_length=16, help_text="2017/18, 2018, 2016")
    start_date = models.DateField(null=True)
    end_date = models.DateField(null=True)

    class Meta:
        ordering = ["competition_id", "id"]

    def __str__(self) -> str:
        return f"{self.competition} {self.name}"


class Team(models.Model):
    class Kind(models.TextChoices):
        CLUB = "club"
        NATIONAL = "national"

    id = models.IntegerField(primary_key=True, help_text="Wyscout teamId")
    name = models.CharField(max_length=100)
    official_name = models.CharField(max_length=150, blank=True)
    city = models.CharField(max_length=100, blank=True)
    area = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Lower-case, accent-free name for search.
    search_name = models.CharField(max_length=300, db_index=True, blank=True)
    provider = _provider_field()
    source_id = _source_id_field()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Player(models.Model):
    id = models.IntegerField(primary_key=True, help_text="Wyscout playerId")
    first_name = models.CharField(max_length=100, blank=True)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    short_name = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=250, help_text="first, middle and last name")
    # Lower-case, accent-free names for search, so `mbappe` finds Mbappé.
    search_name = models.CharField(max_length=600, db_index=True, blank=True)
    birth_date = models.DateField(null=True)
    height = models.PositiveSmallIntegerField(null=True, help_text="cm")
    weight = models.PositiveSmallIntegerField(null=True, help_text="kg")
    foot = models.CharField(max_length=8, blank=True)
    role = models.CharField(max_length=2, choices=Role.choices, db_index=True)
    nationality = models.CharField(max_length=100, blank=True, help_text="passport area")
    birth_area = models.CharField(max_length=100, blank=True)
    current_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    current_national_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    # The club or national team of the player's latest appearance in the data.
    last_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    provider = _provider_field()
    source_id = _source_id_field()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def country(self) -> str:
        """The country the player represents: their national team's, else the passport area.

        Wyscout's `passportArea` is one passport of several, often not the
        country played for: Mbappé's is Cameroon, Pogba's Guinea. A reader of
        this (the API, the profile section) selects `current_national_team`.
        """
        team = self.current_national_team
        return team.area or team.name if team is not None else self.nationality


class Match(models.Model):
    class Duration(models.TextChoices):
        REGULAR = "Regular"
        EXTRA_TIME = "ExtraTime"
        PENALTIES = "Penalties"

    id = models.IntegerField(primary_key=True, help_text="Wyscout matchId")
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="matches")
    season = models.ForeignKey(Season, on_delete=models.CASCADE, related_name="matches")
    gameweek = models.PositiveSmallIntegerField(default=0)
    date_utc = models.DateTimeField()
    label = models.CharField(max_length=200)
    venue = models.CharField(max_length=200, blank=True)
    duration = models.CharField(max_length=16, choices=Duration.choices)
    home_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="home_matches")
    away_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="away_matches")
    winner = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    home_score = models.PositiveSmallIntegerField()
    away_score = models.PositiveSmallIntegerField()
    home_score_ht = models.PositiveSmallIntegerField()
    away_score_ht = models.PositiveSmallIntegerField()
    home_score_et = models.PositiveSmallIntegerField(default=0)
    away_score_et = models.PositiveSmallIntegerField(default=0)
    home_score_p = models.PositiveSmallIntegerField(default=0)
    away_score_p = models.PositiveSmallIntegerField(default=0)
    provider = _provider_field()
    source_id = _source_id_field()
    # Content hash of one match imported through kloppy (its rows, sheet, events, teams and players);
    # the competition's data_hash is built from these. Blank for the Wyscout public data.
    data_hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["date_utc", "id"]
        indexes = [models.Index(fields=["season", "date_utc"])]

    def __str__(self) -> str:
        return self.label

    @property
    def nominal_minutes(self) -> int:
        """90, plus 30 when the match went to extra time (and perhaps penalties)."""
        return 90 if self.duration == self.Duration.REGULAR else 120


class AppearanceQuerySet(models.QuerySet):
    def played(self) -> "AppearanceQuerySet":
        """Appearances in the contract's sense: a start or a substitution on (not an unused substitute)."""
        return self.exclude(status=Appearance.Status.UNUSED)


class Appearance(models.Model):
    """One player in one match's squad sheet: a starter, a substitute who came on, or an unused one.

    `minutes` follows CONTRACT section 5: the nominal clock (90, or 120 with extra
    time) from coming on to going off or being sent off.
    """

    class Status(models.TextChoices):
        STARTER = "starter"
        SUBSTITUTE = "substitute", "substitute who came on"
        UNUSED = "unused", "unused substitute"

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="appearances")
    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="appearances", db_constraint=False
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="appearances")
    status = models.CharField(max_length=16, choices=Status.choices)
    minute_on = models.PositiveSmallIntegerField(null=True)
    minute_off = models.PositiveSmallIntegerField(null=True)
    minutes = models.PositiveSmallIntegerField(default=0)
    yellow_card_minute = models.PositiveSmallIntegerField(null=True)
    red_card_minute = models.PositiveSmallIntegerField(null=True)
    # As the source's squad sheet has them; the events are the authority for goals.
    sheet_goals = models.SmallIntegerField(null=True)
    sheet_own_goals = models.SmallIntegerField(null=True)

    objects = AppearanceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["match", "player"], name="appearance_unique_match_player")
        ]
        indexes = [models.Index(fields=["player", "match"]), models.Index(fields=["team", "match"])]

    @property
    def played(self) -> bool:
        return self.status != self.Status.UNUSED


class Event(models.Model):
    """One Wyscout event. `tags` holds the tag ids, comma-separated (see football.tags)."""

    id = models.BigIntegerField(primary_key=True, help_text="Wyscout event id")
    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="events", db_constraint=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    # Null for events with no player (playerId 0 in the source: ball out, whistle).
    player = models.ForeignKey(
        Player, null=True, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    type_id = models.PositiveSmallIntegerField(help_text="Wyscout eventId")
    subtype_id = models.PositiveSmallIntegerField(null=True, help_text="Wyscout subEventId")
    period = models.CharField(max_length=2, help_text="1H, 2H, E1, E2, P")
    second = models.FloatField(help_text="seconds from the start of the period")
    x = models.PositiveSmallIntegerField(null=True)
    y = models.PositiveSmallIntegerField(null=True)
    end_x = models.PositiveSmallIntegerField(null=True)
    end_y = models.PositiveSmallIntegerField(null=True)
    tags = models.CharField(max_length=120, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["player", "match"], name="event_player_match"),
            models.Index(fields=["match", "period", "second"], name="event_match_time"),
            models.Index(fields=["type_id", "subtype_id"], name="event_type"),
            # The shots of a player's matches (xA, blocks: football.analytics.progression): a few
            # index ranges per match (shots, direct free kicks, penalties, corners), and covering
            # (every field that query reads is in the index): no lookup of the row per shot, which
            # was 40-60 ms of a busy player's season_stats.
            models.Index(
                fields=[
                    "match",
                    "type_id",
                    "subtype_id",
                    "period",
                    "second",
                    "team",
                    "player",
                    "x",
                    "y",
                    "tags",
                ],
                name="event_match_type",
            ),
        ]


class Dataset(models.Model):
    """The one row that says which data is loaded: its version and when it was imported."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField(null=True)
    counts = models.JSONField(default=dict)


class FittedModel(models.Model):
    """A versioned artefact fitted on the data: the expected-goals model, the expected-threat grid."""

    class Kind(models.TextChoices):
        EXPECTED_GOALS = "xg"
        EXPECTED_THREAT = "xt"
        # The possession-value model (VAEP-style: two classifiers over the last actions).
        POSSESSION_VALUE = "vaep"
        # Not fitted but derived: the per-player aggregates, versioned the same way.
        AGGREGATES = "agg"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    version = models.CharField(max_length=64, help_text="hash of the parameters and the data version")
    data_version = models.CharField(max_length=64)
    fitted_at = models.DateTimeField(auto_now_add=True)
    parameters = models.JSONField()
    metrics = models.JSONField(default=dict)

    class Meta:
        ordering = ["-fitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="fitted_model_unique_version")
        ]


class PlayerSeasonAggregate(models.Model):
    """Per-player totals for one competition, season and team, refreshed daily and after every import.

    The slow sections (percentiles, similar players) rank players on these rows
    instead of scanning all events per report.
    """

    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="aggregates", db_constraint=False
    )
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="+")
    season = models.ForeignKey(Season, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    role = models.CharField(max_length=2, choices=Role.choices)
    appearances = models.PositiveSmallIntegerField(default=0)
    starts = models.PositiveSmallIntegerField(default=0)
    minutes = models.PositiveIntegerField(default=0)
    goals = models.PositiveSmallIntegerField(default=0)
    penalty_goals = models.PositiveSmallIntegerField(default=0)
    assists = models.PositiveSmallIntegerField(default=0)
    shots = models.PositiveSmallIntegerField(default=0)
    shots_on_target = models.PositiveSmallIntegerField(default=0)
    xg = models.FloatField(default=0)
    npxg = models.FloatField(default=0)
    passes = models.PositiveIntegerField(default=0)
    passes_accurate = models.PositiveIntegerField(default=0)
    key_passes = models.PositiveSmallIntegerField(default=0)
    duels = models.PositiveIntegerField(default=0)
    duels_won = models.PositiveIntegerField(default=0)
    yellow_cards = models.PositiveSmallIntegerField(default=0)
    red_cards = models.PositiveSmallIntegerField(default=0)
    xt_added = models.FloatField(default=0)
    touches = models.PositiveIntegerField(default=0)
    # xA, progression and defensive actions: football.analytics.progression and counting.
    xa = models.FloatField(default=0)
    progressive_passes = models.PositiveIntegerField(default=0)
    progressive_carries = models.PositiveIntegerField(default=0)
    passes_into_final_third = models.PositiveIntegerField(default=0)
    carries_into_final_third = models.PositiveIntegerField(default=0)
    passes_into_box = models.PositiveIntegerField(default=0)
    carries_into_box = models.PositiveIntegerField(default=0)
    tackles_won = models.PositiveIntegerField(default=0)
    interceptions = models.PositiveIntegerField(default=0)
    clearances = models.PositiveIntegerField(default=0)
    blocks = models.PositiveIntegerField(default=0)
    recoveries = models.PositiveIntegerField(default=0)
    # Possession value (football.analytics.vaep): the sum over the player's actions, its
    # offensive and defensive parts, how many actions were valued, and the most valuable
    # ones as [event id, value, offensive, defensive] (the possession_value section).
    vaep = models.FloatField(default=0)
    vaep_offensive = models.FloatField(default=0)
    vaep_defensive = models.FloatField(default=0)
    vaep_actions = models.PositiveIntegerField(default=0)
    vaep_top = models.JSONField(default=list)
    # Data and model versions these figures were computed from.
    version = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["player", "competition", "season", "team"], name="aggregate_unique_player_season_team"
            )
        ]
        indexes = [models.Index(fields=["competition", "season", "role"])]
