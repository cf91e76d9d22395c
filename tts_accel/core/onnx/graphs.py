"""Derived copies of a voice's ONNX graph, for every family: extra outputs, cached on disk.

A family that needs a tensor the exporter left internal (Piper's frames per id, Kokoro's
durations) gets a copy of the graph with that tensor as a named output: an ``Identity`` per
output, the graph otherwise untouched, so the copy computes exactly the original's samples.
Copies live in ``cache_dir()/graphs``, keyed by the model's sha256 and the ONNX Runtime
version, and are written atomically with a digest stamp (``files.cache.write_verified``): a
crash never leaves a partial graph under a final name, and a copy that no longer holds what was
written (truncated, edited) is built again. A cache that cannot be written is an ``OutputError`` naming the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tts_accel.core.errors import ModelError, output_error
from tts_accel.core.files.cache import cache_dir, model_digest, verified, write_verified
from tts_accel.core.versions import ort_version


def needs_onnx(what: str):  # type: ignore[no-untyped-def]
    """The onnx module, or a ModelError saying ``what`` needs it."""
    try:
        import onnx
    except ImportError:
        raise ModelError(f"{what} needs the onnx package: pip install onnx") from None
    return onnx


def derived_path(model_path: Path, tag: str) -> Path:
    """Where the copy of ``model_path`` called ``tag`` is cached."""
    return cache_dir() / "graphs" / f"{model_digest(model_path)[:20]}-ort{ort_version()}-{tag}.onnx"


def produced(model) -> set[str]:  # type: ignore[no-untyped-def]
    """Every tensor some node of ``model`` outputs."""
    return {out for node in model.graph.node for out in node.output}


def add_outputs(model, outputs: Mapping[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Expose each internal tensor (key) as a graph output named by its value (float32,
    shape left to ORT), through an Identity; the rest of the graph is untouched."""
    import onnx

    for tensor, name in outputs.items():
        model.graph.node.append(onnx.helper.make_node("Identity", [tensor], [name], name=f"tts_accel/{name}"))
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))


def save(model, dst: Path, what: str = "cache the derived graph in") -> None:  # type: ignore[no-untyped-def]
    """Write ``model`` to ``dst`` atomically, stamped; an OSError becomes an OutputError naming ``dst``."""
    try:
        write_verified(dst, model.SerializeToString())
    except OSError as err:
        raise output_error(dst, err, what) from None


def with_outputs(model_path: Path, outputs: Mapping[str, str], tag: str, what: str) -> Path:
    """The cached copy of ``model_path`` that also outputs ``outputs`` (tensor -> output name),
    built on first use. A tensor the graph does not have is a ModelError saying ``what`` needs it."""
    dst = derived_path(model_path, tag)
    if verified(dst):
        return dst
    onnx = needs_onnx(what)
    model = onnx.load(str(model_path))
    missing = [t for t in outputs if t not in produced(model)]
    if missing:
        raise ModelError(f"{model_path.name} has no {', '.join(missing)} tensor: {what} needs it.")
    add_outputs(model, outputs)
    save(model, dst)
    return dst
