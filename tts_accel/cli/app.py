"""The `tts` Typer app: one module per command, imported when that command runs.

`tts synth` is the commonest call and its start-up is part of its speed: importing every
command's module (the batch package, Rich's progress, the verify stack) cost it about 110 ms on
each run. So the root group knows each command by name and builds it from its module on first
use; `tts --help` builds them all, and lists and describes them exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Annotated, Any

import typer

from tts_accel import __version__
from tts_accel.cli.common import Group

CONTEXT = {"help_option_names": ["-h", "--help"]}
MARKUP = "rich"

#: name -> (module, attribute, Typer command class attribute or None), in the order `tts --help`
#: lists them. An attribute that is a Typer app becomes a command group (``tts profile ...``).
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "synth": ("tts_accel.cli.synth", "synth_command", None),
    "voices": ("tts_accel.cli.voices", "voices_command", None),
    "batch": ("tts_accel.cli.batch", "batch_command", "BatchCommand"),
    "bench": ("tts_accel.cli.bench", "bench_command", None),
    "tune": ("tts_accel.cli.tune", "tune_command", None),
    "verify": ("tts_accel.cli.verify", "verify_command", None),
    "serve": ("tts_accel.cli.serve", "serve_command", None),
    "profile": ("tts_accel.cli.profile", "profile_app", None),
}


def build_command(name: str) -> Any:
    """The click command of ``tts NAME``, from its module (imported now)."""
    module_name, attribute, cls_name = COMMANDS[name]
    # __import__, not importlib.import_module: the import goes through the interpreter's own path,
    # so `python -X importtime` lists the command's module like any other
    module = __import__(module_name, fromlist=[attribute])
    target = getattr(module, attribute)
    holder = typer.Typer(rich_markup_mode=MARKUP, add_completion=False)
    if isinstance(target, typer.Typer):  # a sub-app: a group under this name
        holder.add_typer(target, name=name)
        return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]
    cls = getattr(module, cls_name) if cls_name else None
    holder.command(name, context_settings=CONTEXT, cls=cls)(target)
    return typer.main.get_command(holder)  # one command and no callback: the command itself


class LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: every name known at once, each built when first looked up."""

    def __init__(self, built: MutableMapping[str, Any]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = build_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(name not in COMMANDS for name in self._built)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._built


class LazyGroup(Group):
    """The `tts` group over ``COMMANDS``: a command's module is imported when it is used (the
    lookup, ``Group.get_command``, reads ``self.commands``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.commands)


app = typer.Typer(
    name="tts",
    cls=LazyGroup,
    help="Fast, measured text-to-speech on whatever hardware you have.",
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tts-accel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Fast, measured text-to-speech: `tts synth`, `tts voices`."""


def main() -> None:
    from tts_accel.cli.common import run_app

    run_app(app)
