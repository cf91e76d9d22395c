"""Prometheus metrics of one server (its own registry: two servers in one process never collide)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE  # noqa: F401 - re-exported
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

#: seconds; first audio is tens of milliseconds warm, a whole request up to minutes
TTFA_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0)
OUTCOMES = ("ok", "client_error", "busy", "cancelled", "timeout", "error")


class Metrics:
    def __init__(self, depth: Callable[[], int], waiting: Callable[[], int],
                 batched: Callable[[], tuple[int, int]] = lambda: (0, 0)):  # fmt: skip
        self.active = 0  # requests in flight (what the shutdown checks)
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        self.requests = Counter(
            "tts_requests", "Speech requests by protocol and outcome", ["protocol", "outcome"], registry=r
        )
        self.in_flight = Gauge("tts_requests_in_flight", "Speech requests being answered now", registry=r)
        queue = Gauge("tts_queue_depth", "Requests admitted to the scheduler and not finished", registry=r)
        queue.set_function(lambda: float(depth()))
        units = Gauge("tts_units_waiting", "Units (text stages, windows) ready that no worker has taken", registry=r)
        units.set_function(lambda: float(waiting()))
        batches = Gauge("tts_window_batches", "Decoder calls that ran several requests' windows at once",
                        registry=r)  # fmt: skip
        batches.set_function(lambda: float(batched()[0]))
        windows = Gauge("tts_batched_windows", "Windows run inside those batched calls", registry=r)
        windows.set_function(lambda: float(batched()[1]))
        self.ttfa = Histogram(
            "tts_time_to_first_audio_seconds",
            "From the request to its first audio",
            ["protocol"],
            buckets=TTFA_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "tts_request_latency_seconds",
            "From the request to its last byte",
            ["protocol"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.audio = Counter("tts_audio_seconds", "Seconds of audio produced", registry=r)
        self.unit_cpu = Counter("tts_unit_cpu_seconds", "CPU seconds of the scheduler's units (model work)", registry=r)
        self.units = Counter("tts_units", "Units run by the scheduler", registry=r)
        for protocol in ("http", "wyoming"):
            for outcome in OUTCOMES:
                self.requests.labels(protocol, outcome)  # every series present from the start, at 0

    def on_unit(self, job: object, wall: float, cpu: float) -> None:
        self.units.inc()
        self.unit_cpu.inc(max(0.0, cpu))

    def render(self) -> bytes:
        return generate_latest(self.registry)
