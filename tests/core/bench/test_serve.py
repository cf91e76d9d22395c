"""The load generator's pieces: targets, levels, the text mix, a level's figures, and a real
exchange with small in-process servers (a plain HTTP one that answers 429, a silent TCP one)."""

from __future__ import annotations

import asyncio

import pytest

from tts_accel.core.bench import serve as load
from tts_accel.core.errors import InputError


def test_targets_are_http_or_wyoming_with_a_port():
    t = load.parse_target("http://127.0.0.1:8880/", voice="piper-joe", api_key="k")
    assert (t.protocol, t.host, t.port, t.url) == ("http", "127.0.0.1", 8880, "http://127.0.0.1:8880")
    assert dict(t.headers) == {"Authorization": "Bearer k"}
    assert load.parse_target("tcp://localhost:10200").protocol == "wyoming"
    for bad in ("ftp://x:1", "127.0.0.1:8880", "tcp://localhost", "http://", "tcp://h:99999"):
        with pytest.raises(InputError, match="--serve"):
            load.parse_target(bad)


def test_levels_closed_then_open():
    assert load.parse_levels("1,2, 4", "0.5") == [(1, None), (2, None), (4, None), (None, 0.5)]
    assert load.parse_levels(None, None) == [(1, None)]
    for concurrency, rate in (("0", None), ("two", None), (None, "-1"), (None, "fast")):
        with pytest.raises(InputError):
            load.parse_levels(concurrency, rate)


def test_the_default_mix_is_harvard_with_a_long_sentence_among_them():
    mix = load.default_texts()
    lengths = sorted(len(t) for t in mix)
    assert len(mix) > 20 and lengths[-1] > 3 * lengths[len(mix) // 2]  # a long one among short ones
    longs = [i for i, t in enumerate(mix) if len(t) == lengths[-1]]
    assert len(longs) >= 2 and all(b - a == load.LONG_EVERY for a, b in zip(longs, longs[1:], strict=False))


def test_summary_takes_percentiles_over_successes_and_counts_failures_by_kind():
    results = [load.Result(True, 0.0, 0.1 * i, 1.0 * i, 2.0) for i in range(1, 11)]
    results += [load.Result(False, 0.0, failure="http_429")] * 2 + [load.Result(False, 0.0, failure="timeout")]
    s = load.summarize(results, wall=5.0)
    assert (s["requests"], s["ok"], s["failures"]) == (13, 10, 3)
    assert s["failure_kinds"] == "http_429=2;timeout=1"
    assert s["ttfa_p50_s"] == pytest.approx(0.55) and s["ttfa_p99_s"] <= 1.0
    assert s["req_per_s"] == pytest.approx(2.0) and s["audio_per_wall"] == pytest.approx(4.0)
    empty = load.summarize([load.Result(False, 0.0, failure="connection")], 1.0)
    assert empty["ttfa_p50_s"] is None and empty["ok"] == 0


async def _serve_once(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_an_http_refusal_is_a_failure_of_its_status():
    async def main():
        async def busy(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            await writer.drain()
            writer.close()

        server, port = await _serve_once(busy)
        async with server:
            return await load.request(load.parse_target(f"http://127.0.0.1:{port}"), "Hi.", 5)

    result = asyncio.run(main())
    assert not result.ok and result.failure == "http_429"


def test_a_server_that_never_answers_is_a_timeout_and_a_closed_one_a_connection_failure():
    pytest.importorskip("wyoming", reason="the Wyoming client is in the serve extra")

    async def main():
        async def silent(reader, writer):
            await asyncio.sleep(5)

        async def hang_up(reader, writer):
            writer.close()

        out = []
        for handler in (silent, hang_up):
            server, port = await _serve_once(handler)
            async with server:
                out.append(await load.request(load.parse_target(f"tcp://127.0.0.1:{port}"), "Hi.", 0.5))
        return out

    slow, closed = asyncio.run(main())
    assert slow.failure == "timeout" and closed.failure == "connection"


def test_nothing_listening_is_a_one_line_input_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(InputError, match="cannot connect"):
            load.run_load(load.parse_target(f"http://127.0.0.1:{port}"), [(1, None)], ["Hi."], requests=1)
