"""Version labels, written once: tuned profiles, bench rows and cache keys carry them."""

from __future__ import annotations

import platform
from functools import cache, lru_cache

#: Distributions whose versions change results or speed, in the order labels list them.
VERSIONED = ("onnxruntime", "numpy", "torch", "triton")


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """{"tts-accel": ..., "python": ..., and each installed distribution of VERSIONED}."""
    from tts_accel import __version__

    found = {"tts-accel": __version__, "python": platform.python_version()}
    found.update((dist, version) for dist in VERSIONED if (version := dist_version(dist)))
    return found


def versions_label() -> str:
    """``tts-accel 0.1.0; onnxruntime 1.23.2; numpy 2.3.5; python 3.11.2`` (torch when installed)."""
    return "; ".join(f"{name} {version}" for name, version in versions().items())


def ort_version() -> str:
    """ONNX Runtime's version: part of every derived or optimized graph's cache key. Looked up
    alone: ``versions()`` also looks for torch and triton."""
    return dist_version("onnxruntime")


@cache
def dist_version(name: str) -> str:
    """The installed version of distribution ``name`` (whose top-level module has the same name),
    without importing it or ``importlib.metadata`` (~8 ms of a one-sentence start, more on a cold
    disk): from its one ``NAME-VERSION.dist-info`` folder beside the module; else (an egg, an
    editable install, two such folders) from ``importlib.metadata``. "" when it is not installed."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(name)
    if spec is None:
        return ""
    if spec.origin:
        found = list(Path(spec.origin).parent.parent.glob(f"{name}-*.dist-info"))
        if len(found) == 1:
            return found[0].name[len(name) + 1 : -len(".dist-info")]
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
