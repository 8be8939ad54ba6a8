"""Admin for the football database: browsing and searching what the importer loaded.

The rows come from the data source and are replaced by every import, so the
pages are for looking, not editing by hand. Foreign keys to the big tables use
raw id widgets (a select of every player would render tens of thousands of
options), and each changelist joins what it displays in its one query.
Events (millions of rows) have no changelist: an unfiltered count alone would
scan the table.
"""

from django.contrib import admin
from django.db.models import Q

from .models import Competition, Dataset, FittedModel, Match, Player, Season, Team
from .text import search_key


class FoldedSearchMixin:
    """Admin search that also matches the accent-free `search_name`, so `mbappe` finds Mbappé."""

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        words = search_key(search_term).split()
        if words:
            folded = Q()
            for word in words:
                folded &= Q(search_name__contains=word)
            results = results | queryset.filter(folded)
        return results, may_have_duplicates


class SeasonInline(admin.TabularInline):
    model = Season
    fields = ("id", "name", "start_date", "end_date")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "area", "kind")
    list_filter = ("kind",)
    search_fields = ("name", "area")
    inlines = [SeasonInline]


@admin.register(Season)
class SeasonAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "competition", "start_date", "end_date")
    list_filter = ("competition",)
    search_fields = ("name", "competition__name")
    list_select_related = ("competition",)


@admin.register(Team)
class TeamAdmin(FoldedSearchMixin, admin.ModelAdmin):
    list_display = ("id", "name", "official_name", "city", "area", "kind")
    list_filter = ("kind",)
    search_fields = ("name", "official_name", "city", "=id")
    readonly_fields = ("search_name",)


@admin.register(Player)
class PlayerAdmin(FoldedSearchMixin, admin.ModelAdmin):
    list_display = ("id", "name", "short_name", "role", "nationality", "birth_date", "last_team")
    list_filter = ("role", "nationality")
    search_fields = ("name", "short_name", "=id")
    list_select_related = ("last_team",)
    raw_id_fields = ("current_team", "current_national_team", "last_team")
    readonly_fields = ("search_name",)


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ("id", "label", "date_utc", "competition", "season", "gameweek", "duration")
    list_filter = ("competition", "season")
    search_fields = ("label", "=id")
    date_hierarchy = "date_utc"
    # Season's __str__ names its competition: join both so no row costs a query.
    list_select_related = ("competition", "season__competition")
    raw_id_fields = ("home_team", "away_team", "winner")


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("id", "version", "imported_at")
    readonly_fields = ("id", "version", "imported_at", "counts")

    def has_add_permission(self, request):
        # One row, written by the importer only.
        return False


@admin.register(FittedModel)
class FittedModelAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "version", "data_version", "fitted_at")
    list_filter = ("kind",)
    search_fields = ("version", "data_version")
    readonly_fields = ("kind", "version", "data_version", "fitted_at", "parameters", "metrics")

    def has_add_permission(self, request):
        # Fitted by the weekly jobs, never by hand.
        return False
