"""Rich rendering helpers shared by commands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tts_accel.cli.common import err_console
from tts_accel.core.plan import ExecutionPlan, explain_rows


def explain_table(plan: ExecutionPlan) -> Table:
    """The plan, field by field, with where each value came from (flag, tuned, preset, ...)."""
    table = Table(title="Execution plan", title_justify="left")
    table.add_column("field")
    table.add_column("value")
    table.add_column("from")
    for row in explain_rows(plan):
        table.add_row(*row)
    return table


@contextlib.contextmanager
def progress_for(total: int | None, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar over characters of text on stderr, or a no-op when not on a terminal."""
    if not enabled:
        yield lambda _n: None
        return
    columns = (TextColumn("speaking"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("synth", total=total)
        yield lambda n: progress.advance(task, n)
