"""`tts bench --serve` against a real `tts serve` subprocess on loopback (HTTP and Wyoming)."""

from __future__ import annotations

import csv
import json

import pytest

from tests.utils import Server, free_port, run_cli

pytest.importorskip("fastapi")
pytest.importorskip("wyoming")
pytest.importorskip("httpx")

pytestmark = pytest.mark.serve

FIELDS = {"level", "requests", "ok", "ttfa_p50_s", "ttfa_p95_s", "ttfa_p99_s", "total_p50_s", "total_p95_s",
          "total_p99_s", "req_per_s", "audio_per_wall", "failures", "failure_kinds", "server_rss_mb",
          "protocol"}  # fmt: skip


@pytest.fixture(scope="module")
def server():
    srv = Server("--acoustic", "ort-fp32")
    try:
        yield srv
    finally:
        srv.kill()


def check_rows(rows: list[dict], protocol: str) -> None:
    assert [r["level"] for r in rows] == ["c=1", "c=2"]
    for r in rows:
        assert FIELDS <= set(r) and r["protocol"] == protocol
        assert r["requests"] == 4 and r["ok"] == 4 and r["failures"] == 0 and r["failure_kinds"] == ""
        assert 0 < r["ttfa_p50_s"] <= r["ttfa_p95_s"] <= r["ttfa_p99_s"]
        assert r["ttfa_p50_s"] <= r["total_p50_s"] and r["ttfa_p99_s"] <= r["total_p99_s"]
        assert r["req_per_s"] > 0 and r["audio_per_wall"] > 0


def test_http_levels_report_latency_throughput_and_the_servers_rss(server, tmp_path):
    out, table = tmp_path / "out.json", tmp_path / "out.csv"
    r = run_cli("bench", "--serve", server.url, "--concurrency", "1,2", "--requests", "4", "--json", str(out),
                "--csv", str(table), timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    rows = json.loads(out.read_text())
    check_rows(rows, "http")
    assert all(100 < row["server_rss_mb"] < 4000 for row in rows)  # from its /metrics (process collector)
    assert b"TTFA p50" in r.stderr and b"c=2" in r.stderr
    with table.open() as f:
        assert [row["level"] for row in csv.DictReader(f)] == ["c=1", "c=2"]
    after = server.metrics()  # the server counted them: 8 requests, all ok
    assert after['tts_requests_total{outcome="ok",protocol="http"}'] >= 8


def test_wyoming_levels_and_an_open_loop_rate(server, tmp_path):
    out = tmp_path / "out.json"
    r = run_cli("bench", "--serve", f"tcp://127.0.0.1:{server.wyoming_port}", "--concurrency", "1,2",
                "--requests", "4", "--json", str(out), "-q", timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    rows = json.loads(out.read_text())
    check_rows(rows, "wyoming")
    assert all(row["server_rss_mb"] is None for row in rows)  # Wyoming has no metrics: n/a
    r = run_cli("bench", "--serve", server.url, "--rate", "4", "--requests", "3", "--json", str(out), "-q")
    assert r.returncode == 0, r.stderr.decode()
    (row,) = json.loads(out.read_text())
    assert row["level"] == "rate=4" and row["rate"] == 4 and row["ok"] == 3


def test_a_plot_is_drawn(server, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "load.png"
    r = run_cli("bench", "--serve", server.url, "--concurrency", "1", "--requests", "1", "--plot", str(out), "-q")
    assert r.returncode == 0, r.stderr.decode()
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "127.0.0.1:8880", "tcp://127.0.0.1", "http://127.0.0.1:{free}"])
def test_a_bad_url_is_a_one_line_error_exit_2(url, tmp_path):
    out = tmp_path / "out.json"
    r = run_cli("bench", "--serve", url.format(free=free_port()), "--requests", "1", "--json", str(out), timeout=60)
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "--serve" in lines[0], r.stderr.decode()
    assert not out.exists()


def test_load_options_without_serve_are_refused():
    r = run_cli("bench", "--concurrency", "4", timeout=60)
    assert r.returncode == 2 and b"--serve URL" in r.stderr and b"Traceback" not in r.stderr
