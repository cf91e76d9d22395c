"""Rich rendering helpers shared by commands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from tts_accel.cli.common import err_console

if TYPE_CHECKING:  # imported where used: a plain `tts synth` run needs neither
    from rich.table import Table

    from tts_accel.core.plan.model import ExecutionPlan


def explain_table(plan: ExecutionPlan) -> Table:
    """The plan, field by field, with where each value came from (flag, tuned, preset, ...), and
    below it why a rule chose a value (the acoustic engine: expected work against costs)."""
    from rich.table import Table

    from tts_accel.core.plan.explain import explain_notes, explain_rows

    notes = explain_notes(plan)
    table = Table(
        title="Execution plan", title_justify="left", caption="\n".join(notes) or None, caption_justify="left"
    )
    table.add_column("field")
    table.add_column("value")
    table.add_column("from")
    for row in explain_rows(plan):
        table.add_row(*row)
    return table


def compile_notice(plan: ExecutionPlan, voice: str) -> str | None:
    """The line `tts synth` prints before a run that will compile the acoustic stage (only ever a
    run that asked for a compiled engine: the cost-aware choice never picks an uncompiled one)."""
    from tts_accel.core.acoustic.registry import ENGINES
    from tts_accel.core.voices.registry import family_of

    engine = ENGINES.get(plan.acoustic)
    support = family_of(voice).acoustic
    if engine is None or not engine.compiled or support is None or support.compiled(voice, plan.acoustic):
        return None
    return (
        f"compiling the {plan.acoustic} acoustic stage's window shapes once for this machine (minutes; about "
        "21 CPU-s per shape on the dev VM); later runs load them. `tts tune` builds them ahead of time."
    )


@contextlib.contextmanager
def progress_for(total: int | None, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar over characters of text on stderr, or a no-op when not on a terminal (Rich's
    progress module is then never imported)."""
    if not enabled:
        yield lambda _n: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("speaking"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("synth", total=total)
        yield lambda n: progress.advance(task, n)
