"""The acoustic engines, as data: every engine's name is spelled here and nowhere else.

An engine runs the acoustic stage's decoder over latent windows (``engine.DecoderEngine``); the
text stage and the flow stay ONNX Runtime fp32 for every engine. The planner, `tts bench
--acoustic`, `tts tune`, `tts verify` and the server read what an engine is from its ``AcousticSpec``
(runtime, precision, compiled shapes, whether the cost model weighs it, whether it claims to be the
same voice as the reference) and never test a name. Adding an engine is one implementation module
plus one entry in ``_ENGINES`` (docs/architecture.md walks through it).
"""

from __future__ import annotations

from dataclasses import dataclass

from tts_accel.core.errors import InputError

AUTO = "auto"


@dataclass(frozen=True)
class AcousticSpec:
    """One acoustic engine."""

    name: str
    #: onnx: a decoder graph of the family's on ONNX Runtime; torch: the family's torch network;
    #: any other runtime needs ``builder``
    runtime: str
    precision: str  # fp32 | int8 | bf16
    #: fixed context lengths (frames) it is compiled at, once per machine; () = any length
    shapes: tuple[int, ...] = ()
    #: OpenMP threads per call (baked into a compiled package)
    threads: int = 1
    #: weighed by the cost model (``plan.costs``) and timed by `tts tune`
    costed: bool = False
    #: claims to be the reference's voice: `tts tune` and `tts verify` hold it to the same-voice gate
    same_voice: bool = True
    doc: str = ""
    #: "module:function" that makes this engine (``factory.Builder``), imported only when it is
    #: made; "" for the two built-in runtimes
    builder: str = ""

    @property
    def compiled(self) -> bool:
        return bool(self.shapes)


#: Context lengths the compiled engine is built for: the pipelined schedule's 43 (first window),
#: 150 (ramp) and 534 (steady) frames, and whole sentences up to 200 frames, rounded up to a
#: multiple of 16, plus 288 and 400 so that a whole sentence or a last window is padded by at most
#: ~40 % (one compile each: ~21 CPU-s per shape on the dev VM, in `tts tune`).
COMPILED_SHAPES = (48, 160, 288, 400, 544)

#: The reference every other engine is measured against: the voice's own decoder, fp32.
REFERENCE = "ort-fp32"
#: The fast engine the cost model weighs against the reference, and the same net uncompiled.
FAST = "torch-bf16"
FAST_EAGER = "torch-bf16-eager"
#: The int8 engine (``--precision int8`` in a two-stage mode).
INT8 = "ort-int8"

_ENGINES = (
    AcousticSpec(REFERENCE, "onnx", "fp32", costed=True, doc="the voice's own decoder on ONNX Runtime: the reference"),
    AcousticSpec(INT8, "onnx", "int8", same_voice=False,
                 doc="the decoder's convolutions int8 (static QDQ): not the same voice"),
    AcousticSpec("torch-fp32", "torch", "fp32", doc="the decoder in PyTorch, eager, fp32 (exact: 2-D port check)"),
    AcousticSpec(FAST_EAGER, "torch", "bf16", doc="the same in bfloat16, eager (no compile)"),
    AcousticSpec(FAST, "torch", "bf16", shapes=COMPILED_SHAPES, costed=True,
                 doc="bfloat16, AOTInductor-compiled at fixed window shapes (cached per machine)"),
)  # fmt: skip
ENGINES: dict[str, AcousticSpec] = {s.name: s for s in _ENGINES}
#: Every engine name, in the table's order.
NAMES = tuple(ENGINES)
#: Every value --acoustic accepts; "auto" lets the cost-aware planner choose.
CLI_CHOICES = (AUTO, *NAMES)
#: The engines the cost model weighs (and `tts tune` times).
COSTED = tuple(s.name for s in _ENGINES if s.costed)
#: The engines held to the same-voice gate against the reference.
CLAIMS_VOICE = tuple(s.name for s in _ENGINES if s.same_voice and s.name != REFERENCE)


def spec(name: str, source: str = "") -> AcousticSpec:
    """The spec of acoustic engine ``name``; an InputError naming the valid ones otherwise."""
    found = ENGINES.get(str(name))
    if found is None:
        where = f" ({source})" if source else ""
        raise InputError(f"unknown acoustic engine {name!r}{where}: use one of {', '.join(CLI_CHOICES)}.")
    return found


def for_precision(runtime: str, precision: str) -> str | None:
    """The uncompiled engine of ``runtime`` at ``precision`` (``--precision int8`` is ort-int8)."""
    return next((s.name for s in _ENGINES if s.runtime == runtime and s.precision == precision and not s.compiled),
                None)  # fmt: skip
