"""Reads of the football database that other apps rely on."""

from .models import Dataset, FittedModel, Team


def data_version() -> str:
    """The version of the loaded data: a hash of the imported content, '' before any import."""
    return Dataset.objects.filter(pk=1).values_list("version", flat=True).first() or ""


def fitted_model_versions() -> dict[str, str]:
    """The current version of each fitted artefact (xg, xt, agg), '' for one never fitted."""
    versions = {kind: "" for kind in FittedModel.Kind.values}
    # Newest first, so the first row seen per kind is the current one.
    for kind, version in FittedModel.objects.order_by("-fitted_at", "-id").values_list("kind", "version"):
        if not versions[kind]:
            versions[kind] = version
    return versions


def current_fitted_model(kind: str) -> FittedModel | None:
    return FittedModel.objects.filter(kind=kind).order_by("-fitted_at", "-id").first()


def team_find(identifier: str) -> Team:
    """A team by its id or its name (case- and accent-insensitive); LookupError names the problem."""
    from football.text import search_key

    if identifier.isdigit():
        team = Team.objects.filter(pk=int(identifier)).first()
        if team is None:
            raise LookupError(f"no team with id {identifier}")
        return team
    matches = list(Team.objects.filter(search_name__startswith=search_key(identifier)).order_by("name")[:10])
    exact = [team for team in matches if search_key(team.name) == search_key(identifier)]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LookupError(f"no team named {identifier!r}")
    names = ", ".join(f"{team.name} ({team.id})" for team in matches)
    raise LookupError(f"{identifier!r} matches several teams: {names}; give the id")


def squad_player_ids(*, team_id: int, competition_id: int | None = None) -> list[int]:
    """Players who appeared for a team (in one competition if given), most minutes first."""
    from django.db.models import Sum

    from .models import Appearance

    appearances = Appearance.objects.filter(team_id=team_id).played()
    if competition_id is not None:
        appearances = appearances.filter(match__competition_id=competition_id)
    rows = appearances.values("player_id").annotate(minutes=Sum("minutes")).order_by("-minutes", "player_id")
    return [row["player_id"] for row in rows]
