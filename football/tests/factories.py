"""factory_boy factories for the football schema.

Ids are the source's ids in the real data, so the factories draw them from
ranges far above Wyscout's (competitions < 1,000, seasons < 200,000, teams
< 100,000, players < 600,000, matches < 3,000,000) to never collide with an
imported demo data set in the same test. `search_name` is filled with
`football.text.search_key` exactly as the importer does, so search tests see
what production sees.
"""

import datetime as dt

import factory
from django.utils import timezone

from football.models import Appearance, Competition, Event, Match, Player, Role, Season, Team
from football.text import search_key


class CompetitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Competition

    id = factory.Sequence(lambda n: 900_000 + n)
    name = factory.Sequence(lambda n: f"Test League {n}")
    area = "England"
    kind = Competition.Kind.LEAGUE


class SeasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Season

    id = factory.Sequence(lambda n: 9_000_000 + n)
    competition = factory.SubFactory(CompetitionFactory)
    name = "2017/18"
    start_date = dt.date(2017, 8, 11)
    end_date = dt.date(2018, 5, 13)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    id = factory.Sequence(lambda n: 9_000_000 + n)
    name = factory.Sequence(lambda n: f"Test Club {n}")
    official_name = factory.LazyAttribute(lambda o: f"{o.name} FC")
    city = "Testville"
    area = "England"
    kind = Team.Kind.CLUB
    search_name = factory.LazyAttribute(lambda o: search_key(o.name, o.official_name))


class PlayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Player

    id = factory.Sequence(lambda n: 90_000_000 + n)
    first_name = factory.Sequence(lambda n: f"Firstname{n}")
    middle_name = ""
    last_name = factory.Sequence(lambda n: f"Lastname{n}")
    short_name = factory.LazyAttribute(lambda o: f"{o.first_name[:1]}. {o.last_name}")
    name = factory.LazyAttribute(
        lambda o: " ".join(p for p in (o.first_name, o.middle_name, o.last_name) if p)
    )
    search_name = factory.LazyAttribute(lambda o: search_key(o.name, o.short_name))
    birth_date = dt.date(1995, 6, 15)
    height = 180
    weight = 75
    foot = "right"
    role = Role.MIDFIELDER
    nationality = "England"
    birth_area = "England"
    current_team = None
    current_national_team = None
    last_team = None


class MatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Match

    id = factory.Sequence(lambda n: 90_000_000 + n)
    season = factory.SubFactory(SeasonFactory)
    competition = factory.SelfAttribute("season.competition")
    gameweek = 1
    date_utc = factory.Sequence(
        lambda n: timezone.make_aware(dt.datetime(2017, 9, 1, 15)) + dt.timedelta(days=n)
    )
    home_team = factory.SubFactory(TeamFactory)
    away_team = factory.SubFactory(TeamFactory)
    home_score = 1
    away_score = 0
    home_score_ht = 0
    away_score_ht = 0
    label = factory.LazyAttribute(
        lambda o: f"{o.home_team.name} - {o.away_team.name}, {o.home_score} - {o.away_score}"
    )
    venue = "Test Stadium"
    duration = Match.Duration.REGULAR
    winner = factory.LazyAttribute(
        lambda o: (
            o.home_team
            if o.home_score > o.away_score
            else o.away_team
            if o.away_score > o.home_score
            else None
        )
    )


class AppearanceFactory(factory.django.DjangoModelFactory):
    """A full 90 minutes as a starter for the home side, unless told otherwise."""

    class Meta:
        model = Appearance

    match = factory.SubFactory(MatchFactory)
    player = factory.SubFactory(PlayerFactory)
    team = factory.SelfAttribute("match.home_team")
    status = Appearance.Status.STARTER
    minute_on = 0
    minute_off = 90
    minutes = 90

    class Params:
        unused = factory.Trait(status=Appearance.Status.UNUSED, minute_on=None, minute_off=None, minutes=0)


class EventFactory(factory.django.DjangoModelFactory):
    """A simple accurate pass (Wyscout eventId 8, subEventId 85, tag 1801) unless told otherwise."""

    class Meta:
        model = Event

    id = factory.Sequence(lambda n: 9_000_000_000 + n)
    match = factory.SubFactory(MatchFactory)
    team = factory.SelfAttribute("match.home_team")
    player = factory.SubFactory(PlayerFactory)
    type_id = 8
    subtype_id = 85
    period = "1H"
    second = factory.Sequence(lambda n: float(n % 2700))
    x = 50
    y = 50
    end_x = 60
    end_y = 50
    tags = "1801"
