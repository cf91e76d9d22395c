"""`tts verify`: run the parity tiers and print one table per tier."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tts_accel.cli.common import err_console, error_boundary, out_console
from tts_accel.core.errors import TierUnavailable, output_error
from tts_accel.core.verify.report import FAIL, INFO, PASS, SKIP, TIER_NAMES, Row, VerifyReport
from tts_accel.core.verify.run import run_verify
from tts_accel.core.voices.registry import DEFAULT_VOICE

STYLE = {PASS: "green", FAIL: "bold red", SKIP: "yellow", INFO: "dim"}
EXIT_OK, EXIT_FAILED, EXIT_UNAVAILABLE = 0, 1, TierUnavailable.exit_code


def exit_code(report: VerifyReport) -> int:
    """1 when any item failed; else 6 when a tier that had to run did not; else 0.

    With ``--tier all`` a tier that cannot run on this machine (no torch, no eval extra) is
    reported but only turns the exit code to 6 when no tier ran at all.
    """
    if report.failures:
        return EXIT_FAILED
    return EXIT_UNAVAILABLE if report.missing_required() else EXIT_OK


def report_json(report: VerifyReport) -> dict[str, object]:
    """The report as `--json` writes it: every row, plus the exit code this command gives."""
    return {**report.to_dict(), "exit_code": exit_code(report)}


def fmt_value(value: float | None) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    if value == 0 or 0.01 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.2e}"


def tier_table(tier: int, rows: list[Row]) -> Table:
    table = Table(title=f"tier {tier}: {TIER_NAMES[tier]}", title_justify="left", expand=False)
    for name, justify in (("item", "left"), ("metric", "left"), ("value", "right"),
                          ("threshold", "left"), ("result", "left"), ("note", "left")):  # fmt: skip
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            escape(r.item), escape(r.metric), fmt_value(r.value), escape(r.threshold),
            f"[{STYLE[r.status]}]{r.status}[/]", escape(r.reason),
        )  # fmt: skip
    return table


def render(report: VerifyReport, console: Console) -> None:
    not_run = report.not_run()
    for tier in report.tiers:
        rows = report.tier_rows(tier)
        if rows:
            console.print(tier_table(tier, rows))
        if tier in not_run:
            console.print(f"[yellow]tier {tier} did not run:[/] {escape(not_run[tier])}", soft_wrap=True)
    counts = {s: sum(r.status == s for r in report.rows) for s in (PASS, FAIL, SKIP)}
    code = exit_code(report)
    colour = "red" if code else "green"
    console.print(
        f"[{colour}]{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped "
        f"in {report.wall_s:.1f} s; exit code {code}[/]"
    )


def write_json(report: VerifyReport, path: Path) -> None:
    try:
        path.write_text(json.dumps(report_json(report), indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise output_error(path, err) from None


@error_boundary
def verify_command(
    tier: Annotated[
        str,
        typer.Option(
            "--tier",
            "-t",
            metavar="1|2|3|all",
            help="Tiers to run: 1 kernels, 2 model parity, 3 end to end through Whisper "
            "(WER), a list such as 2,3, or all. Example: --tier 3",
        ),
    ] = "all",
    voice: Annotated[str, typer.Option("--voice", help="Voice to check. Example: --voice piper-joe")] = DEFAULT_VOICE,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="CI subset: 10 sentences, sequential and two modes, small kernel shapes."),
    ] = False,
    json_file: Annotated[
        Path | None,
        typer.Option("--json", metavar="FILE", help="Also write every row as JSON. Example: --json verify.json"),
    ] = None,
) -> None:
    """Check that every fast path says the same as the reference: kernels, modes, and speech.

    Exit codes: 0 all checks passed, 1 a check failed, 6 a requested tier could not run
    (the reason is printed, e.g. the eval extra is missing). Thresholds: docs/verify.md.
    """

    def progress(done: int, rows: list[Row]) -> None:
        failed = sum(r.status == FAIL for r in rows)
        err_console.print(f"[dim]tier {done} ({TIER_NAMES[done]}) done: {len(rows)} rows, {failed} failed[/]")

    if json_file is not None:  # refused now, not after every tier has run
        from tts_accel.core.files.paths import check_output_file

        check_output_file(json_file, "--json")
    report = run_verify(tier, voice=voice, quick=quick, on_tier=progress)
    render(report, out_console)
    if json_file is not None:
        write_json(report, json_file)
    code = exit_code(report)
    if code:
        raise typer.Exit(code)
