"""The bench's own arithmetic and output: percentiles, targets, the results file, the table.

The measurements themselves need the full data set and minutes of real
workers; they run in `make bench`, not here.
"""

import json
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from bench.cpu import cpu_by_role, cpu_used
from bench.http import status_pollers
from bench.importing import BASELINE_LINE
from bench.machine import machine_details
from bench.results import (
    Target,
    percentile,
    ratio,
    results_write,
    rounded,
    table_format,
    targets_for,
    targets_missed,
)
from bench.stack import ACCESS_LOG, access_log_offset, server_times_ms


def test_percentile_interpolates_between_ranks_like_numpy():
    values = [10, 20, 30, 40, 50]
    assert percentile(values, 50) == 30
    assert percentile(values, 0) == 10
    assert percentile(values, 100) == 50
    assert percentile(values, 95) == pytest.approx(48.0)
    assert percentile([5, 1, 3], 50) == 3  # order of input does not matter
    assert percentile([7.5], 99) == 7.5


def test_percentile_refuses_no_values_and_bad_rank():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1], 101)


def test_ratio_is_none_when_a_side_is_missing_or_zero():
    assert ratio(3.0, 6.0) == 0.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0) is None
    assert ratio("x", 1.0) is None


def test_rounded_keeps_about_four_significant_digits():
    assert rounded(1234.5678) == 1234.568
    assert rounded(0.000123456) == 0.0001235
    assert rounded(0.0) == 0.0


def test_targets_say_whether_a_figure_is_met():
    at_most, at_least = Target("<=", 0.6), Target(">=", 10)
    assert at_most.met(0.6) is True
    assert at_most.met(0.61) is False
    assert at_least.met(113.0) is True
    assert at_least.met(9.9) is False
    assert at_most.met("n/a") is None
    assert str(at_most) == "<= 0.6"


def test_every_fast_section_p95_gets_a_target_and_misses_are_listed():
    figures = {
        "ready_vs_parallel": 1.08,
        "reuse_speedup": 113.0,
        "section_ms.profile.p95": 15.8,
        "section_ms.season_stats.p95": 151.0,
        "section_ms.visuals.p95": 1015.0,  # slow: no target
    }
    targets = targets_for(figures, ["profile", "season_stats", "heatmap"])
    assert "section_ms.profile.p95" in targets
    assert "section_ms.heatmap.p95" not in targets  # not measured, not listed
    assert "section_ms.visuals.p95" not in targets
    assert targets_missed(figures, targets) == ["ready_vs_parallel", "section_ms.season_stats.p95"]


def test_results_file_is_one_flat_sorted_json_object(tmp_path):
    path = tmp_path / "bench" / "results.json"
    results_write(path, {"squad_ready_s": 13.0, "machine.cpu_count": 2, "squad": "Manchester City"})
    written = json.loads(path.read_text())
    assert written == {"machine.cpu_count": 2, "squad": "Manchester City", "squad_ready_s": 13.0}
    assert list(written) == sorted(written)
    assert not list(path.parent.glob(".*.tmp"))


def test_results_file_refuses_nested_figures_and_leaves_the_old_file(tmp_path):
    path = tmp_path / "results.json"
    results_write(path, {"a": 1})
    with pytest.raises(ValueError, match="not flat"):
        results_write(path, {"section_ms": {"profile": 1}})
    assert json.loads(path.read_text()) == {"a": 1}


def test_table_puts_targeted_figures_first_with_their_verdict():
    figures = {"zz_other": 3, "reuse_speedup": 113.56, "ready_vs_serial": 1.084}
    targets = {"ready_vs_serial": Target("<=", 0.6), "reuse_speedup": Target(">=", 10)}
    lines = table_format(figures, targets, {"ready_vs_serial": "2 cores"}).splitlines()
    assert lines[0].split() == ["figure", "value", "target", "met", "note"]
    assert lines[2].split() == ["ready_vs_serial", "1.084", "<=", "0.6", "NO", "2", "cores"]
    assert lines[3].split() == ["reuse_speedup", "113.6", ">=", "10", "yes"]
    assert lines[4].split() == ["zz_other", "3"]
    # Columns line up: every value ends in the same column.
    ends = {
        line.index(value) + len(value) for line, value in zip(lines[2:], ["1.084", "113.6", "3"], strict=True)
    }
    assert len(ends) == 1


def test_baseline_script_output_is_parsed():
    line = "LOAD DATA LOCAL INFILE: 3251294 rows in 61.2 s (53,126 rows/s)"
    found = BASELINE_LINE.search(f"wrote 3251294 rows to /tmp/x.tsv in 80.0 s\n{line}\n")
    assert found is not None
    assert (int(found.group(1)), float(found.group(2))) == (3251294, 61.2)


def test_machine_details_name_the_cpu_memory_and_versions():
    details = machine_details()
    assert details["machine.cpu_count"] >= 1
    assert details["machine.cpu_model"]
    assert details["machine.python"].count(".") == 2
    assert details["version.django"].startswith("5.")
    assert all(key.startswith(("machine.", "version.")) for key in details)


class _StatusHandler(BaseHTTPRequestHandler):
    """A status endpoint as the pollers see it: 200 with an ETag, 304 when it still matches."""

    protocol_version = "HTTP/1.1"
    etag = '"v1"'

    def do_GET(self):
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.send_header("ETag", self.etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"status": "running"}'
        self.send_response(200)
        self.send_header("ETag", self.etag)
        if self.path.endswith("chunked/"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("report_id", ["plain", "chunked"])
def test_status_pollers_keep_their_connection_and_send_the_last_etag(report_id):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        polled = status_pollers(
            base_url=base, token="t", report_id=report_id, pollers=3, seconds=1.0, interval_s=0.25
        )
    finally:
        server.shutdown()
    assert not polled.errors
    # Four polls each: the first answer is 200, the rest 304 with the ETag sent back.
    assert polled.statuses == {200: 3, 304: 9}
    assert len(polled.latencies_ms) == 12 and all(ms > 0 for ms in polled.latencies_ms)


def test_server_times_are_read_from_the_access_log_after_an_offset(tmp_path):
    log = tmp_path / ACCESS_LOG
    log.write_text("GET /api/reports/a/ 304 3\n")
    offset = access_log_offset(tmp_path)
    with log.open("a") as out:
        out.write("GET /api/reports/a/ 304 5\nGET /api/reports/b/ 304 90\nPOST /api/reports/a/ 202 40\n")
        out.write("GET /api/reports/a/ 200 12\n")
    assert server_times_ms(tmp_path, offset=offset, method="GET", path="/api/reports/a/") == [5.0, 12.0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_cpu_by_role_counts_a_process_tree_and_this_process():
    # A parent that burns half a second of CPU in a child of its own: the root's role counts both.
    burn = "import time; t = time.process_time(); exec('while time.process_time() - t < 0.5: pass')"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}]); input()",
        ],
        stdin=subprocess.PIPE,
    )
    try:
        before = cpu_by_role({"tree": parent.pid})
        deadline = time.monotonic() + 30
        while cpu_by_role({"tree": parent.pid}).get("tree", 0.0) - before.get("tree", 0.0) < 0.4:
            assert time.monotonic() < deadline, "the child's CPU was not counted under its parent"
            time.sleep(0.05)
        used = cpu_used(before, cpu_by_role({"tree": parent.pid}))
        assert 0.4 <= used["tree"] < 5
        assert "bench" in used and used["bench"] >= 0
    finally:
        parent.communicate(b"\n", timeout=30)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_cpu_by_role_sums_a_role_of_several_processes():
    # The local pool is a role of several processes with no parent of their own but the bench.
    burn = "import time; t = time.process_time(); exec('while time.process_time() - t < 0.3: pass'); input()"
    burners = [subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE) for _ in range(2)]
    try:
        pids = [burner.pid for burner in burners]
        deadline = time.monotonic() + 30
        while cpu_by_role({"pool": pids}).get("pool", 0.0) < 0.55:
            assert time.monotonic() < deadline, "the processes of a role were not summed"
            time.sleep(0.05)
        assert cpu_by_role({"pool": pids[:1]})["pool"] < 0.55
    finally:
        for burner in burners:
            burner.communicate(b"\n", timeout=30)


def test_only_names_groups_of_measures_and_refuses_unknown_ones():
    import argparse

    from bench.phase import GROUPS, groups_parse

    assert groups_parse("tasks, big") == frozenset({"tasks", "big"})
    assert set(GROUPS) >= {"sections", "tasks", "squad", "pollers", "big"}
    for bad in ("tasks,nope", "", ","):
        with pytest.raises(argparse.ArgumentTypeError):
            groups_parse(bad)


def test_the_pipeline_overhead_is_the_fast_workers_cpu_per_section_beyond_the_compute():
    from bench.measures import derived

    # 25 players x 5 fast sections; the fast worker used 2.5 CPU-s to ready: 20 ms a section.
    figures = derived(
        {"squad_ready_cpu.fast_pool_s": 2.5, "squad_players": 25, "compute_cpu_ms_per_section": 5.0}
    )
    assert figures["fast_worker_cpu_ms_per_section"] == 20.0
    assert figures["overhead_cpu_ms_per_section"] == 15.0
    assert figures["overhead_vs_compute_cpu"] == 3.0
    assert "overhead_cpu_ms_per_section" not in derived({"squad_players": 25})
