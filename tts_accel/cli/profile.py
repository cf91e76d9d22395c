"""`tts profile`: what this machine is, and the execution profiles that apply to it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tts_accel.cli.common import Group, error_boundary
from tts_accel.cli.common import out_console as out
from tts_accel.core.errors import InputError
from tts_accel.core.hardware.profile import HardwareProfile, format_cpu_list
from tts_accel.core.plan import profiles as store

CONTEXT = {"help_option_names": ["-h", "--help"]}

profile_app = typer.Typer(
    cls=Group,
    help="Show this machine's hardware profile and manage execution profiles.",
    context_settings=CONTEXT,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@profile_app.callback()
@error_boundary
def profile_main(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    root: Annotated[
        Path, typer.Option("--root", hidden=True, help="Read /proc and /sys below this folder (tests).")
    ] = Path("/"),
) -> None:
    """Print the hardware profile of this machine (CPU cores, ISA, caches, memory, GPUs)."""
    hw = HardwareProfile.detect(root, gpus=root == Path("/"))
    ctx.obj = hw
    if ctx.invoked_subcommand is not None:
        return
    applied = None
    try:
        applied = store.active_profile(hw)
        applies = applied.name if applied else "none"
    except InputError as err:  # a broken tuned profile must not hide the hardware
        applies = f"none ({err})"
    roof = _roofline(hw, root, applied)
    if as_json:
        typer.echo(json.dumps({**hw.to_dict(), "profile": applies, "roofline": roof}, indent=2))
        return
    table = _hardware_table(hw, applies)
    for row in _roofline_rows(roof):
        table.add_row(*row)
    out.print(table)


def _roofline(hw: HardwareProfile, root: Path, applied: store.Profile | None) -> dict[str, object]:
    """The peaks of this CPU, the default voice's decoder FLOPs and what each engine `tts tune`
    timed here achieved (core/bench/roofline.py)."""
    from tts_accel.core.bench.roofline import machine_peak, profile_roofline, voice_flops
    from tts_accel.core.voices.registry import DEFAULT_VOICE

    tuned = applied.acoustic if applied is not None and applied.kind == "tuned" else None
    return profile_roofline(machine_peak(hw, root), voice_flops(DEFAULT_VOICE), tuned)


def _roofline_rows(roof: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    peak = roof["peak"]
    clock = f"{peak['ghz']:.2f} GHz ({peak['clock_source']})" if peak["ghz"] else "clock unknown"

    def g(value: object) -> str:
        return "unknown" if value is None else f"{value:.0f} GFLOP/s"

    bf16 = "none (no bf16 instructions)" if not peak["bf16_per_cycle"] else (
        f"{g(peak['bf16_gflops'])} ({g(peak['bf16_gflops_per_core'])} a core)")  # fmt: skip
    rows = [
        ("peak fp32", f"{g(peak['fp32_gflops'])} ({g(peak['fp32_gflops_per_core'])} a core): {peak['cores']} cores "
                      f"x {clock} x {peak['fp32_per_cycle']} FLOPs/cycle"),
        ("peak bf16", bf16),
        ("peak basis", str(peak["basis"])),
    ]  # fmt: skip
    if roof["decoder_gflop_per_audio_s"] is not None:
        rows.append(("decoder", f"{roof['decoder_gflop_per_audio_s']:.2f} GFLOP per second of audio "
                                f"({roof['decoder_convs']} convolutions of the default voice)"))  # fmt: skip
    for e in roof["engines"]:  # type: ignore[union-attr]
        share = "" if e["share"] is None else f", {100 * e['share']:.1f} % of one core's {e['precision']} peak"
        rows.append((f"achieved {e['engine']}", f"{e['gflops']:.1f} GFLOP/s{share} (`tts tune`, 1 thread)"))
    if not roof["engines"]:
        rows.append(("achieved", "run `tts tune --acoustic-only` (or `tts bench --acoustic all`) to measure"))
    return rows


def _hardware_table(hw: HardwareProfile, applies: str) -> Table:
    table = Table(title="Hardware profile", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    e_cores = format_cpu_list(hw.efficiency_cpus) or "none"
    quota = "unlimited" if hw.cpu_quota is None else f"{hw.cpu_quota:g} CPUs"
    caches = ", ".join(f"L{c.level} {c.kind.lower()} {_kib(c.size_kib)}" for c in hw.caches) or "unknown"
    gpus = "; ".join(f"{g.name} ({g.architecture} {g.sm}, {g.memory_mib} MiB)" for g in hw.gpus) or "none"
    rows = [
        ("CPU", f"{hw.cpu_model} ({hw.cpu_vendor})"),
        ("cores", f"{hw.physical_cores} physical, {hw.logical_cores} logical ({hw.core_layout})"),
        ("performance CPUs", format_cpu_list(hw.performance_cpus) or "none"),
        ("efficiency CPUs", e_cores),
        ("usable CPUs", f"{format_cpu_list(hw.usable_cpus)} (cgroup quota: {quota})"),
        ("effective CPUs", str(hw.effective_cpus)),
        ("ISA", " ".join(hw.isa) or "none of note"),
        ("caches", caches),
        ("memory", f"{hw.memory_mib / 1024:.1f} GiB"),
        ("GPUs", gpus),
        ("fingerprint", hw.fingerprint()),
        ("profile", applies),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def _kib(size: int) -> str:
    return f"{size // 1024} MiB" if size >= 1024 and size % 1024 == 0 else f"{size} KiB"


@profile_app.command("list", context_settings=CONTEXT)
@error_boundary
def list_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List shipped presets and your tuned profiles; mark the one that applies here."""
    hw: HardwareProfile = ctx.obj
    applied = store.active_profile(hw)
    profiles = store.list_profiles()
    if as_json:
        rows = [{**dataclasses.asdict(p), "applies": p == applied} for p in profiles]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Profiles", title_justify="left")
    for column in ("", "name", "kind", "description"):
        table.add_column(column)
    for p in profiles:
        about = p.description or p.hardware
        if p.kind == "tuned" and p.fingerprint == hw.fingerprint():
            about += " (this machine)"
        if p.kind == "tuned" and p.family:
            about += f" [{p.family} voices]"
        table.add_row("*" if p == applied else "", p.name, p.kind, about)
    out.print(table)
    out.print("* applies to this machine; command-line flags still override it.")


@profile_app.command("show", context_settings=CONTEXT)
@error_boundary
def show_command(
    name: Annotated[str, typer.Argument(help="A preset or tuned profile name (see `tts profile list`).")],
    as_json: JsonOpt = False,
) -> None:
    """Show one profile: what it matches, its plan and, for a tuned one, what was measured."""
    profile = store.Profile.from_name(name)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(profile), indent=2))
        return
    table = Table(title=f"{profile.name} ({profile.kind})", title_justify="left", show_header=False)
    table.add_column("section", style="bold")
    table.add_column("key")
    table.add_column("value")
    table.add_row("about", "", profile.description or profile.hardware)
    for section in ("match", "plan", "measured", "versions"):
        for key, value in getattr(profile, section).items():
            table.add_row(section, key, str(value))
            section = ""
    if profile.created:
        table.add_row("created", "", profile.created)
    out.print(table)


@profile_app.command("delete", context_settings=CONTEXT)
@error_boundary
def delete_command(
    name: Annotated[str, typer.Argument(help="A tuned profile's name or fingerprint.")],
) -> None:
    """Delete a tuned profile (shipped presets cannot be deleted)."""
    path = store.delete(name)
    out.print(f"deleted {name} ({path})")
