"""Where the compiled acoustic stage lives on disk, and what makes a compiled package wrong elsewhere.

Torch-free on purpose: the planner asks ``ready()`` (a ``stat`` per shape) to know whether the
compile cache is warm before it decides to import torch at all (``import torch`` alone costs
1.0-1.3 CPU-s on the dev VM).

A package bakes in the model's weights, the window length (static shapes), the precision, the
OpenMP thread count (inductor writes ``num_threads(N)`` into its C++), C++ built for this CPU's
instruction set, torch's ABI and the net's code; the key names all of them:
``<sha16>-torch<version>-decoder-<precision>-L<frames>-t<threads>-<isa>-<flags8>-n<net>-<arch>.pt2``
under ``cache_dir()/torch/aoti`` (``$TTS_ACCEL_CACHE_DIR`` honoured).
"""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tts_accel.core.files.cache import cache_dir, model_digest
from tts_accel.core.plan.costs import isa_class
from tts_accel.core.versions import dist_version

#: Bump when net.py changes what it computes in a way its file hash would not show.
NET_VERSION = 1
#: The cut this package compiles: the HiFi-GAN decoder alone (the flow stays ORT fp32: in bf16 it
#: costs ~14 dB of SNR, docs/acoustic.md).
CUT = "decoder"
SUFFIX = ".pt2"


def aoti_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "torch" / "aoti"


@lru_cache(maxsize=1)
def torch_version() -> str:
    """The installed torch's version without importing it ("" when torch is absent)."""
    return dist_version("torch")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """Every flag of this CPU (/proc/cpuinfo), not just the ones the hardware profile keeps."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@lru_cache(maxsize=1)
def net_version() -> str:
    """``NET_VERSION`` and 8 hex digits of net.py: any edit to the module is a new artifact."""
    code = Path(__file__).with_name("net.py").read_bytes()
    return f"{NET_VERSION}.{hashlib.sha256(code).hexdigest()[:8]}"


@dataclass(frozen=True)
class ArtifactKey:
    model_sha256: str
    precision: str  # fp32 | bf16
    frames: int  # the context length compiled for
    threads: int  # OpenMP threads baked into the package
    isa: str  # costs.isa_class of this CPU (lowered by ONEDNN_MAX_CPU_ISA)
    torch_version: str
    flags_hash: str  # 8 hex digits of this CPU's sorted flags: the C++ inside is built for them
    net: str  # net_version()

    def stem(self) -> str:
        tv = self.torch_version.replace("+", "_")
        return (
            f"{self.model_sha256[:16]}-torch{tv}-{CUT}-{self.precision}-L{self.frames}-t{self.threads}"
            f"-{self.isa}-{self.flags_hash}-n{self.net}-{platform.machine()}"
        )


def make_key(model_sha256: str, precision: str, frames: int, threads: int) -> ArtifactKey:
    flags = cpu_flags()
    flags_hash = hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:8]
    return ArtifactKey(
        model_sha256, precision, int(frames), int(threads), isa_class(flags), torch_version(), flags_hash, net_version()
    )


def artifact_path(key: ArtifactKey, root: Path | None = None) -> Path:
    return aoti_dir(root) / f"{key.stem()}{SUFFIX}"


def keys_for(model_path: Path, precision: str, shapes: Iterable[int], threads: int) -> list[ArtifactKey]:
    sha = model_digest(Path(model_path))  # cached by (path, size, mtime): no hashing on a warm start
    return [make_key(sha, precision, frames, threads) for frames in sorted(set(shapes))]


def ready(model_path: Path, precision: str, shapes: Iterable[int], threads: int, root: Path | None = None) -> bool:
    """Whether every shape's package is on disk (a stat each; nothing is imported or loaded).
    A file that turns out broken when loaded is rebuilt then; this only answers "warm or cold"."""
    if not torch_version():
        return False
    try:
        return all(artifact_path(k, root).is_file() for k in keys_for(model_path, precision, shapes, threads))
    except OSError:
        return False


def onednn_cap() -> str:
    """``ONEDNN_MAX_CPU_ISA`` as set for this process ("" when unset): part of what a measurement means."""
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "")
