"""A short readable summary of a report's data, for the command line and the demo."""

import orjson


def _figure(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def report_summary_lines(body: bytes, *, limit: int = 30) -> list[str]:
    document = orjson.loads(body)
    rows = []
    for sections in document["players"].values():
        profile = sections.get("profile", {})
        stats = sections.get("season_stats", {}).get("competitions", [])
        main = max(stats, key=lambda row: row.get("minutes", 0), default=None)
        rows.append((main.get("minutes", 0) if main else 0, profile, main, sections))
    rows.sort(key=lambda row: -row[0])
    header = f"{'player':<28} {'role':<4} {'competition':<26} {'apps':>4} {'min':>5} {'goals':>5} {'ast':>4} {'shots':>5} {'xG':>5}"
    lines = [document["report"]["name"], header, "-" * len(header)]
    for _, profile, main, _sections in rows[:limit]:
        name = (profile.get("short_name") or profile.get("name") or "?")[:28]
        if main is None:
            lines.append(f"{name:<28} {profile.get('role', ''):<4} (no season figures)")
            continue
        competition = f"{main['competition']} {main['season']}"[:26]
        lines.append(
            f"{name:<28} {profile.get('role', ''):<4} {competition:<26} {main['appearances']:>4} {main['minutes']:>5} "
            f"{main['goals']:>5} {main['assists']:>4} {main['shots']:>5} {_figure(main['xg']):>5}"
        )
    if len(rows) > limit:
        lines.append(f"... and {len(rows) - limit} more players")
    failed = document.get("failed", [])
    pending = document.get("pending", [])
    lines.append(
        f"{len(rows)} players, {len(document['report']['sections'])} sections each; "
        f"{len(failed)} failed, {len(pending)} pending"
    )
    for item in failed[:10]:
        lines.append(f"  failed: player {item['player']} {item['section']}: {item['error']}")
    lines.append(document["credit"])
    return lines
