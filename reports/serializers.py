from django.conf import settings
from rest_framework import serializers

from .models import Report
from .sections import REGISTRY, SECTIONS


class ReportCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    players = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
        allow_empty=False,
        max_length=settings.REPORT_MAX_PLAYERS,
        help_text=f"Wyscout player ids, 1 to {settings.REPORT_MAX_PLAYERS}, no repeats.",
    )
    sections = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SECTIONS)),
        required=False,
        allow_empty=False,
        help_text="Default: all sections. The sections a chosen one depends on are added.",
    )

    def validate_players(self, value: list[int]) -> list[int]:
        seen, repeated = set(), []
        for player_id in value:
            if player_id in seen and player_id not in repeated:
                repeated.append(player_id)
            seen.add(player_id)
        if repeated:
            raise serializers.ValidationError(f"Repeated player ids: {', '.join(map(str, repeated))}.")
        return value

    def validate_sections(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each section may be named once.")
        return value

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({field: ["Unknown field."] for field in sorted(unknown)})
        return attrs


class QueueProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    reused = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer):
    fast = QueueProgressSerializer()
    slow = QueueProgressSerializer()
    percent = serializers.FloatField()


class TaskSerializer(serializers.Serializer):
    player = serializers.IntegerField(source="player_id")
    section = serializers.CharField()
    queue = serializers.CharField()
    state = serializers.CharField()
    reused = serializers.BooleanField()
    attempts = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class QueueSerializer(serializers.Serializer):
    position = serializers.IntegerField(
        help_text="Place among the owner's waiting reports, from 1; 0 when the report is not waiting."
    )
    sections_ahead = serializers.IntegerField(
        help_text="Other reports' sections that run before this report's last one: for a running "
        "report its share of the others (they take turns; a small report going out whole waits only "
        "for each other report's window), for a waiting one everything running "
        "and the owner's reports waiting before it."
    )


class ReportStatusSerializer(serializers.ModelSerializer):
    """The status body: its fields document it (the schema); `reports.apis.status_body` builds it, for everyone.

    DRF's field-by-field representation took half of a status answer's time
    (docs/performance.md), so this serializer's representation is that one
    function's; reports/tests/test_apis.py checks it against the fields' own.
    Context: `request`, and `detail` for the per-task rows.
    """

    players = serializers.ListField(source="player_ids", child=serializers.IntegerField())
    sections = serializers.ListField(child=serializers.CharField())
    progress = ProgressSerializer()
    queue = QueueSerializer()
    eta_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="Seconds until the report ends, counting the sections ahead of it (`queue`) as well as its own.",
    )
    data_url = serializers.CharField()
    tasks = TaskSerializer(many=True, required=False)

    class Meta:
        model = Report
        fields = [
            "id",
            "name",
            "status",
            "created_at",
            "ready_at",
            "completed_at",
            "players",
            "sections",
            "progress",
            "queue",
            "eta_seconds",
            "data_url",
            "tasks",
        ]

    def to_representation(self, instance):
        from .apis import status_body  # the API module imports this one

        return status_body(self.context["request"], instance, detail=self.context.get("detail", False))


class ReportListSerializer(serializers.ModelSerializer):
    players = serializers.ListField(source="player_ids", child=serializers.IntegerField())

    class Meta:
        model = Report
        fields = ["id", "name", "status", "created_at", "ready_at", "completed_at", "players", "sections"]


class ReportDataSerializer(serializers.Serializer):
    """The shape of GET /api/reports/{id}/data/ (documentation only: the body is served as stored)."""

    report = serializers.DictField()
    credit = serializers.CharField()
    players = serializers.DictField(
        help_text='{"<player id>": {"<section>": {...}}}. Sections (docs/football.md and docs/models.md '
        "have every field): "
        + "; ".join(
            f"`{section.name}` ({section.queue}, version {section.version}): {section.description}"
            for section in REGISTRY
        )
    )
    pending = serializers.ListField(child=serializers.DictField())
    failed = serializers.ListField(child=serializers.DictField())
    cancelled = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="A cancelled report's sections that never ran.",
    )
    complete = serializers.BooleanField()
