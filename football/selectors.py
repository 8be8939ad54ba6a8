"""Reads of the football database that other apps rely on."""

from .models import Dataset, FittedModel


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
