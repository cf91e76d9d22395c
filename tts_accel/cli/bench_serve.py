"""`tts bench --serve URL`: the load generator's run and its table (`tts bench` checked the output paths)."""

from __future__ import annotations

import os
from pathlib import Path

from tts_accel.cli.common import err_console

API_KEY_ENV = "TTS_ACCEL_API_KEY"


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else f"{value:{spec}}"


def bench_serve(
    url: str, concurrency: str | None, rate: str | None, requests: int, duration: float, timeout: float,
    voice: str | None, inputs: list[Path], json_out: Path | None, csv_out: Path | None, plot_out: Path | None,
    quiet: bool,
) -> None:  # fmt: skip
    """Run the levels against ``url`` and show or write a row per level."""
    from rich import box
    from rich.table import Table

    from tts_accel.core.bench import modes as bench
    from tts_accel.core.bench import serve as load

    target = load.parse_target(url, voice, os.environ.get(API_KEY_ENV))
    levels = load.parse_levels(concurrency, rate)
    texts = list(bench.load_texts([], inputs).values()) if inputs else None
    with err_console.status("loading the server", spinner="dots") as status:
        rows = load.run_load(
            target, levels, texts, requests, duration, timeout,
            on_step=lambda s: status.update(f"load {s} on {url}") if not quiet else None,
        )  # fmt: skip
    if not quiet:
        table = Table(
            title=f"{url} ({target.protocol}): up to {requests} requests or {duration:g} s per level, "
            "fresh connection each; seconds",
            title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
        )  # fmt: skip
        cols = ("level", "ok/sent", "TTFA p50", "p95", "p99", "total p50", "p95", "p99", "req/s", "audio s/s",
                "failures", "server RSS MiB")  # fmt: skip
        for col in cols:
            table.add_column(col, justify="left" if col in ("level", "failures") else "right", no_wrap=True)
        for r in rows:
            table.add_row(
                r.level, f"{r.ok}/{r.requests}", _fmt(r.ttfa_p50_s), _fmt(r.ttfa_p95_s), _fmt(r.ttfa_p99_s),
                _fmt(r.total_p50_s, ".2f"), _fmt(r.total_p95_s, ".2f"), _fmt(r.total_p99_s, ".2f"),
                f"{r.req_per_s:.2f}", f"{r.audio_per_wall:.2f}", r.failure_kinds.replace(";", " ") or "-",
                _fmt(r.server_rss_mb, ".0f"),
            )  # fmt: skip
        err_console.print(table)  # piped or logged, it is wide (cli/common)
        err_console.print(f"[dim]client: {rows[0].machine}; {rows[0].versions}[/]")
    if json_out:
        bench.write_json(rows, json_out)
    if csv_out:
        bench.write_csv(rows, csv_out)
    if plot_out:
        load.plot(rows, plot_out)
