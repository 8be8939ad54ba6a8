"""The export files, made from a report's data document (reports.merge.report_data_read) and nothing else.

Every figure comes from the document the API serves: nothing is computed
again here, only laid out. The PDF is an HTML print template rendered by
headless Debian Chromium; the season tables are written as CSV and XLSX.
"""

import base64
import csv
import io
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from reports.merge import CREDIT

# Columns that say which row it is; the figures follow in season_stats' own order.
SEASON_IDENTITY = (
    "player_id",
    "player",
    "competition_id",
    "competition",
    "season_id",
    "season",
    "team_id",
    "team",
    "first_match",
    "last_match",
)
PER90_PREFIX = "per90_"
# A spreadsheet reads a cell starting with one of these as a formula (CSV
# injection); text cells that do are prefixed with an apostrophe.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# The visuals section's pictures, in the order the PDF shows them.
PICTURES = (
    ("shot_map", "Shot map"),
    ("heatmap", "Heatmap"),
    ("pass_map", "Pass map"),
    ("defensive_actions", "Defensive actions"),
)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # workers may run as root (CI, containers)
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",
    # The page is self-contained (data URIs): no host name resolves, so nothing is fetched.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-extensions",
)


class RenderError(Exception):
    """The file could not be made; the message is what the export's error shows."""


def player_name(sections: dict, player_id: str) -> str:
    profile = sections.get("profile") or {}
    return profile.get("name") or profile.get("short_name") or f"Player {player_id}"


# --- Season tables ----------------------------------------------------------------


def season_table(document: dict) -> tuple[list[str], list[list[Any]]]:
    """The header and one row per player, competition and season, as season_stats has them.

    Counting figures are the row's own scalar fields, in season_stats' order;
    the per-90 figures follow as `per90_<figure>`. Players come in the
    report's order, each player's rows in the section's order.
    """
    players = document["players"]
    order = [str(pid) for pid in document["report"]["players"]]
    figures: dict[str, None] = {}
    per90: dict[str, None] = {}
    rows_in: list[tuple[str, str, dict]] = []
    for player_id in order:
        sections = players.get(player_id, {})
        for row in (sections.get("season_stats") or {}).get("competitions", []):
            rows_in.append((player_id, player_name(sections, player_id), row))
            for name, value in row.items():
                if name == "per90":
                    per90.update(dict.fromkeys(value))
                elif name not in SEASON_IDENTITY and not isinstance(value, dict | list):
                    figures[name] = None
    header = [*SEASON_IDENTITY, *figures, *(PER90_PREFIX + name for name in per90)]
    rows = []
    for player_id, name, row in rows_in:
        identity = {**row, "player_id": int(player_id), "player": name}
        rows.append(
            [identity.get(column) for column in SEASON_IDENTITY]
            + [row.get(column) for column in figures]
            + [(row.get("per90") or {}).get(column) for column in per90]
        )
    return header, rows


def spreadsheet_text(value: str) -> str:
    """Text a spreadsheet shows as text: a leading formula character is escaped with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def season_csv(document: dict) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel reads accents (Mbappé) right."""
    header, rows = season_table(document)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [
                "" if value is None else spreadsheet_text(value) if isinstance(value, str) else value
                for value in row
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def _xlsx_row(sheet, values: list[Any]) -> list:
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            # openpyxl stores any text starting with "=" as a formula; this
            # keeps it the text it is (the cell shows "=..." and runs nothing).
            cell.data_type = "s"
        cells.append(cell)
    return cells


def season_xlsx(document: dict) -> bytes:
    """The season table on a sheet of its own, and a sheet naming the report, its generation and the credit."""
    header, rows = season_table(document)
    book = Workbook(write_only=True)
    table = book.create_sheet("Season tables")
    table.freeze_panes = "A2"
    table.append(_xlsx_row(table, header))
    for row in rows:
        table.append(_xlsx_row(table, row))
    about = book.create_sheet("About")
    report = document["report"]
    for label, value in (
        ("report", report["name"]),
        ("report id", report["id"]),
        ("generation", report["generation"]),
        ("data version", report["data_version"]),
        ("complete", "yes" if document["complete"] else "no: some sections had not ended"),
        ("credit", document["credit"]),
    ):
        about.append(_xlsx_row(about, [label, value]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- PDF -------------------------------------------------------------------------------


def _data_uri(key: str) -> str:
    with default_storage.open(key, "rb") as stored:
        return "data:image/png;base64," + base64.b64encode(stored.read()).decode("ascii")


def print_context(document: dict) -> dict:
    """What the print template shows, player by player, with the pictures read from storage as data URIs."""
    failed: dict[str, list[dict]] = {}
    for item in document["failed"]:
        failed.setdefault(str(item["player"]), []).append(item)
    pending: dict[str, list[str]] = {}
    for item in document["pending"]:
        pending.setdefault(str(item["player"]), []).append(item["section"])
    players = []
    for player_id in (str(pid) for pid in document["report"]["players"]):
        sections = document["players"].get(player_id, {})
        images = (sections.get("visuals") or {}).get("images") or {}
        players.append(
            {
                "id": player_id,
                "name": player_name(sections, player_id),
                "profile": sections.get("profile"),
                "seasons": (sections.get("season_stats") or {}).get("competitions", []),
                "matches": (sections.get("match_log") or {}).get("matches", []),
                "pictures": [
                    {"title": title, "src": _data_uri(images[name])}
                    for name, title in PICTURES
                    if name in images
                ],
                "similar": sections.get("similar_players"),
                "percentiles": _percentile_tables(sections.get("percentiles")),
                "threat": sections.get("expected_threat"),
                "failed": failed.get(player_id, []),
                "pending": pending.get(player_id, []),
            }
        )
    return {
        "report": document["report"],
        "players": players,
        "complete": document["complete"],
        "credit": document.get("credit") or CREDIT,
        "printed_at": timezone.now(),
    }


def _percentile_tables(section: dict | None) -> list[dict]:
    """One table per competition-season: the figures as rows, with their raw value beside the percentile."""
    if not section:
        return []
    return [
        {
            **{name: value for name, value in competition.items() if name != "figures"},
            "rows": [
                {"figure": name.replace("_", " "), **values}
                for name, values in competition["figures"].items()
            ],
        }
        for competition in section.get("competitions", [])
    ]


def report_print_html(document: dict) -> str:
    return render_to_string("exports/report_print.html", print_context(document))


def report_pdf(document: dict) -> bytes:
    """The report printed to A4 by headless Chromium; RenderError with Chromium's last word if it fails."""
    html = report_print_html(document)
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        page = Path(folder) / "report.html"
        page.write_text(html, encoding="utf-8")
        out = Path(folder) / "report.pdf"
        return chromium_print(page=page, out=out, profile=Path(folder) / "profile")


def chromium_print(*, page: Path, out: Path, profile: Path) -> bytes:
    binary = settings.EXPORT_CHROMIUM_PATH
    timeout = settings.EXPORT_CHROMIUM_TIMEOUT_S
    command = [
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--print-to-pdf={out}",
        page.as_uri(),
    ]
    try:
        # Its own session (process group): on a timeout the renderer and helper
        # processes go with the browser, not only the process started here.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError) as exc:
        raise RenderError(f"Chromium could not be started: {binary}: {exc.strerror}") from exc
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise RenderError(f"Chromium did not finish printing within {timeout} s") from exc
    # Chromium exits 0 even when it could not write the file; its last line on stderr says why.
    if process.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no output"
        raise RenderError(f"Chromium failed (exit {process.returncode}): {last}")
    return out.read_bytes()
