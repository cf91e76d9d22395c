"""Version labels, written once: tuned profiles, bench rows and cache keys carry them."""

from __future__ import annotations

import platform
from functools import lru_cache
from importlib import metadata

#: Distributions whose versions change results or speed, in the order labels list them.
VERSIONED = ("onnxruntime", "numpy", "torch", "triton")


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """{"tts-accel": ..., "python": ..., and each installed distribution of VERSIONED}."""
    from tts_accel import __version__

    found = {"tts-accel": __version__, "python": platform.python_version()}
    for dist in VERSIONED:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def versions_label() -> str:
    """``tts-accel 0.1.0; onnxruntime 1.23.2; numpy 2.3.5; python 3.11.2`` (torch when installed)."""
    return "; ".join(f"{name} {version}" for name, version in versions().items())


@lru_cache(maxsize=1)
def ort_version() -> str:
    """ONNX Runtime's version: part of every derived or optimized graph's cache key. Looked up
    alone: ``versions()`` also looks for torch and triton, which costs every start-up about 15 ms."""
    return metadata.version("onnxruntime")
