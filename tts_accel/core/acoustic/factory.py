"""The one factory of acoustic engines: a registry entry and a family's source make an engine.

A voice family contributes an ``AcousticSource``: its decoder graphs (cut out of the voice's own
file, margins stamped) and, where it has one, its torch network. Everything else (which engine a
plan asks for, the ORT-first hand-off to a compiled engine, what a compiled engine may not do) is
decided here, from ``registry`` data, for every family alike.

Nothing here imports torch: a torch engine comes from ``source.torch_engine``, which the family
imports lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tts_accel.core.acoustic import registry
from tts_accel.core.acoustic.engine import DecoderEngine
from tts_accel.core.acoustic.handoff import HandoffEngine
from tts_accel.core.acoustic.ort import OrtDecoderEngine
from tts_accel.core.acoustic.registry import AcousticSpec
from tts_accel.core.acoustic.windows import Margins
from tts_accel.core.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.onnx.sessions import SessionSettings
    from tts_accel.core.plan.model import ExecutionPlan


class AcousticSource(Protocol):
    """What a voice family gives the acoustic stage of one voice."""

    #: the voice's own file: its sha256 keys every derived graph and compiled package
    model_path: Path

    def decoder(self, precision: str) -> Path:
        """The decoder graph at ``precision`` (fp32: the voice's own; int8: a quantized copy),
        ``z`` (1, C, W) -> ``audio``, margins and hop stamped."""
        ...

    def torch_engine(self, spec: AcousticSpec, *, margins: Margins, runners: int, allow_compile: bool,
                     on_compile: Callable[[Any], None] | None) -> DecoderEngine:  # fmt: skip
        """The family's torch network as engine ``spec`` (a ``TorchMissing`` error without torch)."""
        ...

    def compiled(self, spec: AcousticSpec) -> bool:
        """Whether ``spec``'s compiled shapes are on disk here (a stat per shape, nothing imported)."""
        ...


class Builder(Protocol):
    """What a registry entry's ``builder`` names: makes engine ``spec`` over ``source``'s graphs."""

    def __call__(self, spec: AcousticSpec, source: AcousticSource, *, settings: SessionSettings | None,
                 margins: Margins | None, runners: int, allow_compile: bool,
                 on_compile: Callable[[Any], None] | None) -> DecoderEngine: ...  # fmt: skip


def builder_of(spec: AcousticSpec) -> Builder:
    """The function ``spec.builder`` names ("package.module:function"), imported now."""
    import importlib

    module, _, name = spec.builder.partition(":")
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as err:
        raise ModelError(f"acoustic engine {spec.name}: its builder {spec.builder!r} cannot be loaded ({err})") from err


def make_engine(
    name: str,
    source: AcousticSource,
    *,
    settings: SessionSettings | None = None,
    margins: Margins | None = None,
    runners: int = 1,
    allow_compile: bool = True,
    on_compile: Callable[[Any], None] | None = None,
) -> DecoderEngine:
    """Engine ``name`` over ``source``'s graphs, as the lab and the probe run it (no hand-off).

    ``settings``: the ORT session's threads (one per call by default). ``margins``: the decoder's
    field (read from the fp32 graph when None). ``runners``: windows that may run at once.
    ``allow_compile=False`` makes a compiled engine refuse to build a missing shape (a ModelError
    naming `tts tune`); ``on_compile(key)`` is told before a shape compiles."""
    spec = registry.spec(name)
    if spec.builder:
        return builder_of(spec)(spec, source, settings=settings, margins=margins, runners=runners,
                                allow_compile=allow_compile, on_compile=on_compile)  # fmt: skip
    if spec.runtime == "onnx":
        return OrtDecoderEngine(source.decoder(spec.precision), settings)
    if margins is None:
        margins = OrtDecoderEngine(source.decoder("fp32"), settings).margins
    return source.torch_engine(spec, margins=margins, runners=runners, allow_compile=allow_compile,
                               on_compile=on_compile)  # fmt: skip


def engine_for_plan(
    plan: ExecutionPlan,
    source: AcousticSource,
    first: OrtDecoderEngine,
    *,
    longest: int | None = None,
    on_compile: Callable[[Any], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> DecoderEngine:
    """The engine ``plan.acoustic`` names, for a run whose stage already made ``first`` (ONNX
    Runtime fp32 on the plan's session). ``longest``: the longest window context the schedule
    sends (a compiled engine refuses a schedule whose windows exceed its largest shape).

    A compiled engine starts as a ``HandoffEngine``: ``first`` runs the first windows while a
    thread imports torch, loads (or, when asked, compiles) the shapes and calls each once; a
    shape's windows move to the compiled engine as soon as it is warm. One the cost-aware
    choice picked (source "heuristic") may not compile: it was chosen because its shapes are on
    disk; if one turns out unusable the run stays on ORT fp32 and ``on_note`` hears why (the plan
    itself is frozen). Asked for by flag or profile, it compiles what is missing, or fails."""
    spec = registry.spec(plan.acoustic)
    chosen_by_costs = plan.sources.get("acoustic") == "heuristic"
    runners = max(1, plan.workers)
    if spec.name == registry.REFERENCE:
        return first
    if spec.builder:
        return make_engine(spec.name, source, settings=plan, margins=first.margins, runners=runners,
                           allow_compile=not chosen_by_costs, on_compile=on_compile)  # fmt: skip
    if spec.runtime == "onnx":
        return OrtDecoderEngine(source.decoder(spec.precision), plan)

    def load() -> DecoderEngine:
        engine = source.torch_engine(spec, margins=first.margins, runners=runners, allow_compile=not chosen_by_costs,
                                     on_compile=on_compile)  # fmt: skip
        return engine.load() if spec.compiled else engine  # type: ignore[attr-defined,no-any-return]

    if not spec.compiled:
        return load()

    def failed(err: BaseException) -> None:
        if on_note is not None:
            on_note(f"--acoustic {spec.name} stayed on ONNX Runtime fp32: {err}")

    if longest is not None and longest > spec.shapes[-1]:
        too_long = ModelError(
            f"--acoustic {spec.name}: the window schedule sends contexts of up to {longest} frames, longer than the "
            f"largest compiled shape ({spec.shapes[-1]}): use steps of at most "
            f"{spec.shapes[-1] - first.margins.left - first.margins.right} frames in --windows"
        )
        if not chosen_by_costs:
            raise too_long
        failed(too_long)
        return first
    return HandoffEngine(first, load, shapes=spec.shapes, on_error=failed, raise_errors=not chosen_by_costs)
