"""TorchDecoderEngine: the acoustic stage's ``DecoderEngine`` on PyTorch (eager or AOTInductor).

Contract (``core.acoustic.engine.DecoderEngine``): ``run(z_ctx)`` takes one window's context,
(192, W) float32 latent frames, and returns exactly W * hop float32 samples. A compiled engine
has fixed context lengths (``shapes``): a window runs at the smallest one >= W, right-padded and
masked inside the net (exact: 0.0 difference in fp32), so any W up to ``max(shapes)`` works and
the caller cuts the core out as it does for ONNX Runtime. An eager engine takes any W.

Compiled packages are built once per (model sha256, torch version, shape, precision, threads,
ISA class, CPU flags, net version) and cached (``aoti.AotiStore``); a run that finds them on
disk only loads them (``load``; ``warm(length)`` calls a shape once, because the first call
after loading sets up oneDNN's kernels and costs 10-18x a steady one: the hand-off warms each
shape on its loading thread). ``allow_compile=False``
refuses to compile (a ``ModelError`` naming `tts tune`), which is how `tts synth` keeps its
promise of never compiling unless asked.

Batches (``run_batch``, for `tts serve --max-batch`): an eager engine runs windows of several
requests in one call, the net mapped over them with ``torch.func.vmap``. Windows whose lengths
fall in one class of ``batch_shapes`` (the compiled shapes) share a call, each right-padded to
the batch's longest and masked at its own end, so its samples are its own ``run``'s within float
rounding (at most 1.8e-6 in fp32 on the dev VM: a batch may get another convolution algorithm).
A compiled package is exported at batch 1, so a compiled engine says ``max_batch = 1`` and its
windows run one call each. ``device``: where an eager engine runs ("cuda" on a GPU; the window
comes in and its samples go out as numpy arrays either way).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tts_accel.core.acoustic.registry import COMPILED_SHAPES
from tts_accel.core.errors import ModelError
from tts_accel.core.voices.piper.config import HOP
from tts_accel.core.voices.piper.torch_acoustic._runtime import torch
from tts_accel.core.voices.piper.torch_acoustic.aoti import AotiStore
from tts_accel.core.voices.piper.torch_acoustic.artifacts import ArtifactKey, keys_for
from tts_accel.core.voices.piper.torch_acoustic.net import CHANNELS, Decoder2d, build_decoder


class TorchDecoderEngine:
    """The decoder on torch. ``precision`` fp32 | bf16; ``compiled``: AOTInductor at ``shapes``
    (context lengths, frames), else eager at any length. ``threads``: OpenMP threads per call
    (baked into a package); ``runners``: calls that may run at once (workers sharing it)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        precision: str = "bf16",
        compiled: bool = True,
        shapes: Sequence[int] = (),
        threads: int = 1,
        runners: int = 1,
        margins: Any = None,
        cache_root: Path | None = None,
        allow_compile: bool = True,
        on_compile: Callable[[ArtifactKey], None] | None = None,
        net: Decoder2d | None = None,
        device: str = "cpu",
        max_batch: int = 16,
        batch_shapes: Sequence[int] = COMPILED_SHAPES,
    ) -> None:
        if compiled and device != "cpu":
            raise ValueError("a compiled (AOTInductor) decoder runs on the CPU; use an eager engine on a GPU")
        if compiled and not shapes:
            raise ValueError("a compiled engine needs at least one window shape (frames)")
        if net is not None and net.precision != precision:
            raise ValueError(f"the given net is {net.precision}, not {precision}")
        if threads < 1:
            raise ValueError("threads must be at least 1")
        torch.set_num_threads(threads)
        self.model_path = Path(model_path)
        self.precision = precision
        self.compiled = compiled
        self.shapes: tuple[int, ...] | None = tuple(sorted({int(s) for s in shapes})) if compiled else None
        self.threads = threads
        self.margins = margins
        self.hop = net.hop if net is not None else HOP
        self.allow_compile = allow_compile
        self.on_compile = on_compile
        self.store = AotiStore(cache_root, runners) if compiled else None
        self.device = torch.device(device)
        #: windows one call may take: compiled packages are exported at batch 1
        self.max_batch = 1 if compiled else max(1, max_batch)
        #: windows whose lengths fall in one class (the compiled engine's shapes) share a batch,
        #: padded to the batch's longest: exact (masked), and the shapes of several requests meet
        self.batch_shapes = () if compiled else tuple(sorted(batch_shapes))
        self._net = net  # built from the ONNX weights only when needed: a package holds its own
        self._batched: Callable[..., Any] | None = None
        self._fns: dict[int, Callable[..., Any]] = {}
        self._lock = threading.Lock()
        self._keys: dict[int, ArtifactKey] = {}
        if compiled:
            assert self.shapes is not None
            self._keys = dict(zip(self.shapes, keys_for(self.model_path, precision, self.shapes, threads), strict=True))

    # -- public --------------------------------------------------------------------------------
    @property
    def net(self) -> Decoder2d:
        if self._net is None:
            self._net = build_decoder(self.model_path, self.precision).to(self.device)
            self.hop = self._net.hop
        return self._net

    @property
    def max_frames(self) -> int | None:
        return self.shapes[-1] if self.shapes else None

    def artifacts(self) -> list[Path]:
        """The package files this engine uses (compiled engines), whether or not they exist yet."""
        return [self.store.path(k) for k in self._keys.values()] if self.store is not None else []

    def load(self) -> TorchDecoderEngine:
        """Load (or build, where allowed) every compiled shape now (0.006 CPU-s each through the C++
        loader); a shape's first call then sets up oneDNN's kernels (about 10x a steady call).
        Eager: builds the net from the ONNX weights."""
        if not self.compiled:
            _ = self.net
        for length in self.shapes or ():
            self._callable(length)
        return self

    def warm(self, length: int) -> None:
        """Call compiled shape ``length`` once (a shape's first call builds oneDNN's kernels:
        10-18x a steady call, growing with the window's width)."""
        with torch.no_grad():
            self._callable(length)(*_example(length))

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        """z_ctx (192, W) float32 -> (W * hop,) float32 samples of those W frames."""
        frames = _frames(z_ctx)
        length = self._bucket(frames)
        x = torch.zeros((1, CHANNELS, length), dtype=torch.float32)  # (1, 192, L): right-padded
        x[0, :, :frames] = torch.from_numpy(np.asarray(z_ctx, dtype=np.float32))
        valid = torch.tensor([frames], dtype=torch.int64)
        fn = self._callable(length) if self.compiled else self.net
        with torch.no_grad():
            audio = fn(x.to(self.device), valid.to(self.device))  # (1, L * hop)
        return self._samples(audio[0], length, frames)

    def run_batch(self, z_ctxs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Several windows in one call (eager engines; a compiled one runs them one by one), each
        right-padded to the longest and masked at its own end: ``[run(z) for z in z_ctxs]``."""
        if self.compiled or len(z_ctxs) <= 1:
            return [self.run(z) for z in z_ctxs]
        if len(z_ctxs) > self.max_batch:
            raise ModelError(f"a batch of {len(z_ctxs)} windows exceeds this engine's max_batch ({self.max_batch})")
        counts = [_frames(z) for z in z_ctxs]
        length = max(counts)
        x = torch.zeros((len(z_ctxs), 1, CHANNELS, length), dtype=torch.float32)  # (B, 1, 192, L)
        for i, (z, frames) in enumerate(zip(z_ctxs, counts, strict=True)):
            x[i, 0, :, :frames] = torch.from_numpy(np.asarray(z, dtype=np.float32))
        valid = torch.tensor(counts, dtype=torch.int64).reshape(-1, 1)  # (B, 1)
        if self._batched is None:
            self._batched = torch.func.vmap(self.net)  # the batch-1 net over a leading batch dim
        with torch.no_grad():
            audio = self._batched(x.to(self.device), valid.to(self.device))  # (B, 1, L * hop)
        return [self._samples(audio[i, 0], length, frames) for i, frames in enumerate(counts)]

    def _samples(self, audio: Any, length: int, frames: int) -> np.ndarray:
        """(frames * hop,) float32 numpy from one window's (L * hop,) output."""
        hop = int(audio.shape[-1]) // length
        if hop != self.hop:
            raise ModelError(f"the decoder gave {hop} samples per frame, expected {self.hop}")
        return audio[: frames * hop].float().cpu().numpy().copy()

    # -- internals -----------------------------------------------------------------------------
    def _bucket(self, frames: int) -> int:
        if self.shapes is None:
            return frames
        for length in self.shapes:
            if frames <= length:
                return length
        raise ModelError(
            f"a window of {frames} frames exceeds the largest compiled shape ({self.shapes[-1]}): "
            "the schedule and the compiled shapes disagree"
        )

    def _callable(self, length: int) -> Callable[..., Any]:
        fn = self._fns.get(length)
        if fn is not None:
            return fn
        with self._lock:
            if length not in self._fns:
                self._fns[length] = self._load_or_build(length)
            return self._fns[length]

    def _load_or_build(self, length: int) -> Callable[..., Any]:
        assert self.store is not None
        key = self._keys[length]
        if not self.allow_compile:
            runner = self.store.load(key)
            if runner is None:
                raise ModelError(
                    f"the bf16 acoustic stage's {length}-frame window shape is not compiled on this machine "
                    "and this run may not compile it: run `tts tune` (builds every shape once), or pass "
                    "--acoustic torch-bf16 explicitly"
                )
            return runner

        def export():  # type: ignore[no-untyped-def]
            with torch.no_grad():
                return torch.export.export(self.net, _example(length))

        return self.store.get_or_build(key, export, self.on_compile)


def _frames(z_ctx: np.ndarray) -> int:
    shape = np.shape(z_ctx)
    if len(shape) != 2 or shape[0] != CHANNELS or shape[1] == 0:
        raise ModelError(f"a decoder window is ({CHANNELS}, W) with W >= 1 latent frames, got {shape}")
    return int(shape[1])


def _example(length: int) -> tuple[Any, Any]:
    return torch.zeros((1, CHANNELS, length), dtype=torch.float32), torch.tensor([length], dtype=torch.int64)
