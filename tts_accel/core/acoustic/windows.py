"""Window schedules for a windowed acoustic stage: which latent frames each run reads and keeps.

Family-neutral: any acoustic stage that is convolutions along frames (a receptive field of
``Margins`` frames each side, ``core/receptive.py``) can run over these windows.

A window has a *core* (the frames whose samples it emits) and a *context* (the frames it runs
on: the core plus margins). Cores tile ``[0, n)`` exactly, in order: ``first`` frames, then
each of ``ramp``, then ``step`` frames until the end (the last core takes the remaining
``<= step + right`` frames, so no tiny window ends a sentence).

With ``fixed=True`` contexts come in a small fixed set of lengths (``Schedule.shapes``), for
engines that compile per shape (torch.compile, CUDA graphs):

* the first window: core ``[0, first)``, context ``[0, first + right)``: it starts at the
  sentence's true edge, so it needs no left margin;
* window k >= 2: ``left + core_k + right`` frames, placed so that the core has ``left`` frames
  before it and ``right`` after, or touches a true edge (left-clamped at the start: more right
  context; the last window right-aligned to the end: more left context, frames the window
  before already emitted are computed again). With ``bucket=B`` the last window's length is
  instead ``left + remaining`` rounded up to a multiple of B (at most B - 1 frames computed
  again; ``shapes`` gains the multiples of B);
* only a sentence too short for a window's length runs it at its own length, and so does a
  sentence of at most ``whole_up_to`` frames (one window: the whole sentence).

With ``fixed=False`` (ONNX Runtime takes any length at no cost) each context is the smallest
exact one: the core plus margins, clipped to the sentence.

A context that touches a true edge is exact without a margin there: a whole-sentence run also
sees zero padding at that edge, in every layer. Zero-padding the latent instead is *not* exact
(biases and activations make the padded frames non-zero after one layer: 0.27 max abs error
measured at a loud edge of the Piper decoder).

``WindowPlan`` is the schedule as data, as the execution plan carries it (``plan.windows``): an
opening schedule for a stream's first sentence (or the first after the output ran dry) and a
steady one for every later sentence, written ``w200:32x128x512/512`` (docs/streaming.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tts_accel.core.errors import InputError


@dataclass(frozen=True)
class Margins:
    """Latent frames of context a window needs on each side of its core frames."""

    left: int
    right: int


@dataclass(frozen=True)
class Window:
    """Frames ``[core_start, core_stop)`` are emitted; the run reads ``[ctx_start, ctx_stop)``."""

    core_start: int
    core_stop: int
    ctx_start: int
    ctx_stop: int

    @property
    def frames(self) -> int:
        """Context length: the shape the engine runs at."""
        return self.ctx_stop - self.ctx_start

    @property
    def skip(self) -> int:
        """Context frames before the core (their samples are computed and dropped)."""
        return self.core_start - self.ctx_start

    @property
    def core(self) -> int:
        return self.core_stop - self.core_start


@dataclass(frozen=True)
class Schedule:
    """Core frames per window: ``first``, then each of ``ramp``, then ``step`` until the end;
    ``margins`` frames of context each side (at least the receptive field). A sentence of at
    most ``whole_up_to`` frames runs as one window: streaming it would cost more than it saves."""

    first: int
    step: int
    margins: Margins
    ramp: tuple[int, ...] = ()
    whole_up_to: int = 0
    bucket: int = 0  # fixed mode: last-window lengths rounded up to a multiple of this (0: full length)

    def __post_init__(self) -> None:
        if min(self.first, self.step, *self.ramp) < 1:
            raise ValueError(f"window cores must be at least 1 frame: {self}")
        if self.whole_up_to < 0 or self.bucket < 0:
            raise ValueError(f"whole_up_to and bucket must be >= 0: {self}")
        if self.margins.left < 0 or self.margins.right < 0:
            raise ValueError(f"margins must be >= 0, got {self.margins}")

    def core(self, k: int) -> int:
        """Core frames of window ``k`` (0-based)."""
        if k == 0:
            return self.first
        return self.ramp[k - 1] if k <= len(self.ramp) else self.step

    def frames(self, k: int) -> int:
        """Context length of window ``k`` in a long sentence (its fixed shape)."""
        if k == 0:
            return self.first + self.margins.right
        return self.margins.left + self.core(k) + self.margins.right

    @property
    def shapes(self) -> tuple[int, ...]:
        """Every context length a fixed-shape engine meets (sentences of at least
        ``max(shapes)`` frames; shorter ones run some windows at their own length)."""
        full = [self.frames(k) for k in range(len(self.ramp) + 2)]
        if self.bucket:
            full += range(self.bucket, max(full[1:]), self.bucket)
        return tuple(sorted(set(full)))

    def last_frames(self, k: int, remaining: int) -> int:
        """Fixed-mode context length of window ``k`` when it is the last, with ``remaining``
        core frames: the full length, or the bucket above ``left + remaining``."""
        full = self.frames(k)
        if not self.bucket:
            return full
        return min(full, -(-(self.margins.left + remaining) // self.bucket) * self.bucket)


def windows(n_frames: int, schedule: Schedule, fixed: bool = False) -> list[Window]:
    """The windows that cover ``n_frames`` latent frames under ``schedule``, in order.

    ``fixed=False``: each context is the core plus margins clipped to the sentence (for ORT).
    ``fixed=True``: each context keeps its fixed shape where the sentence is long enough.
    Both give the same cores, so the same pieces.
    """
    if n_frames < 1:
        raise ValueError(f"a sentence has at least 1 frame, got {n_frames}")
    left, right = schedule.margins.left, schedule.margins.right
    if n_frames <= max(schedule.frames(0), schedule.whole_up_to):
        return [Window(0, n_frames, 0, n_frames)]
    out = [Window(0, schedule.first, 0, schedule.frames(0))]
    start, k = schedule.first, 1
    while start < n_frames:
        core, shape = schedule.core(k), schedule.frames(k)
        last = n_frames - start <= core + right or n_frames <= shape
        stop = n_frames if last else start + core
        if not fixed:
            out.append(Window(start, stop, max(0, start - left), min(n_frames, stop + right)))
        elif last:  # right-aligned to the true end
            out.append(Window(start, stop, max(0, n_frames - schedule.last_frames(k, stop - start)), n_frames))
        else:  # left-clamped at the true start
            ctx = max(0, start - left)
            out.append(Window(start, stop, ctx, ctx + shape))
        start, k = stop, k + 1
    return out


def computed_frames(n_frames: int, schedule: Schedule, fixed: bool = False) -> int:
    """Frames the windows run on in total (``n_frames`` for a whole run)."""
    return sum(w.frames for w in windows(n_frames, schedule, fixed))


# --- the schedule as plan data -------------------------------------------------------------------

#: What ``plan.windows`` holds to run whole chunks (no windows).
OFF = "off"
_PART = re.compile(r"(?:(?P<opts>(?:[wb]\d+:)+))?(?P<cores>\d+(?:x\d+)*)")


@dataclass(frozen=True)
class Cores:
    """One schedule's core sizes in frames, without margins (those come from the graph)."""

    first: int
    step: int
    ramp: tuple[int, ...] = ()
    whole_up_to: int = 0

    def schedule(self, margins: Margins, bucket: int = 0) -> Schedule:
        return Schedule(self.first, self.step, margins, self.ramp, self.whole_up_to, bucket)

    def __str__(self) -> str:
        prefix = f"w{self.whole_up_to}:" if self.whole_up_to else ""
        sizes = (self.first, *self.ramp, self.step) if self.ramp or self.first != self.step else (self.step,)
        return prefix + "x".join(str(c) for c in sizes)

    def describe(self) -> str:
        sizes = (self.first, *self.ramp) if self.ramp or self.first != self.step else ()
        text = "".join(f"{c}, " for c in sizes) + ("then " if sizes else "") + f"{self.step} at a time"
        return text + (f", one window up to {self.whole_up_to}" if self.whole_up_to else "")


@dataclass(frozen=True)
class WindowPlan:
    """Two schedules: ``opening`` for the first sentence of a stream (and the first after the
    output ran dry: nothing buffered ahead of it), ``steady`` for every sentence that starts
    while earlier audio is still ahead of it. ``bucket`` rounds a fixed-shape engine's last
    window up to a multiple of that many frames."""

    opening: Cores
    steady: Cores
    bucket: int = 32
    #: the text form, as written in a profile or on the command line
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> WindowPlan:
        """``OPENING[/STEADY][;bBUCKET]``; a schedule is ``[wN:]FIRSTxRAMP...xSTEP`` in latent
        frames: ``w200:32x128x512/512`` = at most 200 frames in one window, else 32 frames
        first, then 128, then 512 at a time; later sentences 512 at a time."""
        body, _, tail = text.strip().partition(";")
        bucket = 32
        if tail:
            m = re.fullmatch(r"b(\d+)", tail.strip())
            if not m:
                raise _bad(text)
            bucket = int(m.group(1))
        parts = [p.strip() for p in body.split("/")]
        if not 1 <= len(parts) <= 2:
            raise _bad(text)
        cores = [_cores(p, text) for p in parts]
        return cls(cores[0], cores[-1], bucket, text.strip())

    def schedules(self, margins: Margins, fixed: bool = False) -> tuple[Schedule, Schedule]:
        """(opening, steady) with ``margins``; fixed-shape engines get the bucket."""
        bucket = self.bucket if fixed else 0
        return self.opening.schedule(margins, bucket), self.steady.schedule(margins, bucket)

    def shapes(self, margins: Margins) -> tuple[int, ...]:
        """Every context length a fixed-shape engine meets under this plan (longest first
        windows included; sentences shorter than a window's length run at their own length)."""
        opening, steady = self.schedules(margins, fixed=True)
        return tuple(sorted(set(opening.shapes) | set(steady.shapes)))

    def __str__(self) -> str:
        text = f"{self.opening}/{self.steady}"
        return text if self.bucket == 32 else f"{text};b{self.bucket}"

    def describe(self) -> str:
        """One line for ``--explain``."""
        return f"{self} (frames; first sentence: {self.opening.describe()}; later: {self.steady.describe()})"

    def steady_only(self) -> str:
        """This plan's text with the steady schedule for every sentence: for output nobody plays
        while it is made (`tts batch`'s files), where the opening's small windows only cost."""
        text = f"{self.steady}/{self.steady}"
        return text if self.bucket == 32 else f"{text};b{self.bucket}"


def _cores(part: str, text: str) -> Cores:
    m = _PART.fullmatch(part)
    if not m:
        raise _bad(text)
    opts = {o[0]: int(o[1:]) for o in (m.group("opts") or "").split(":") if o}
    if "b" in opts:
        raise _bad(text)
    sizes = [int(x) for x in m.group("cores").split("x")]
    if min(sizes) < 1:
        raise InputError(f"windows {text!r}: every window needs at least 1 frame.")
    if len(sizes) == 1:
        sizes = sizes * 2  # "512": 512 first, 512 after
    return Cores(sizes[0], sizes[-1], tuple(sizes[1:-1]), opts.get("w", 0))


def _bad(text: str) -> InputError:
    return InputError(
        f"windows {text!r} is not a schedule: use off, or frames like w200:32x128x512/512 "
        "(at most 200 frames in one window; else 32, 128, then 512 at a time; later sentences 512)."
    )


def parse_windows(text: str) -> WindowPlan | None:
    """``plan.windows`` as a WindowPlan; None for "" or "off" (whole chunks)."""
    if not text or text.strip().lower() == OFF:
        return None
    return WindowPlan.parse(text)
