"""Split a Piper VITS ONNX graph into a text stage, a flow and a decoder, from the user's own file.

    input, input_lengths, scales --text--> z_p (1, C, F), frames_per_id (1, 1, T)
    z_p (1, C, F) --flow--> z (1, C, F) --decoder--> audio (1, 1, F * HOP)

The text graph holds everything that needs the whole sentence (encoder attention, duration
predictor, alignment, prior expansion) and both noise draws. Flow and decoder are convolutions
along frames with finite receptive fields (32 and 11 frames each side for joe), so they run
over windows; they are kept as two graphs because the flow's wide field would otherwise be
paid at the decoder's cost per frame (docs/streaming.md: the cut).

The seam is found from the graph's structure, not from a list of node names:

* ``frames_per_id`` is the output of the graph's one ``Ceil`` (ceil(exp(logw) * mask * length_scale));
* ``z_p`` is the ``Add`` that ends the chain from the last ``RandomNormalLike``
  (``m_p + noise * exp(logs_p) * noise_scale``);
* ``z`` is the data input of the decoder's first ``Conv`` (``/dec/conv_pre``), i.e.
  ``/Mul_7_output_0`` = flow(z_p) * y_mask in the exporter's naming; ``y_mask`` is its other factor.

Every product with ``y_mask`` inside the flow becomes an ``Identity``: for one sentence
(batch 1) the mask is all ones and ``x * 1.0 == x`` exactly, so flow and decoder each take one
input and hold only convolutions and element-wise ops along time (``receptive.propagate``
checks it). Split graphs run to exactly the monolithic graph's samples (max |diff| 0.0 on the
tests' sentences).

``split_graph`` caches the three graphs in ``cache_dir()/split/<sha256>-onnx<version>-v<N>/``,
each written atomically and stamped with its digest (``files.cache.write_verified``: a graph
that no longer matches it is built again), with the flow's and decoder's margins and hop
stamped into their metadata (``core/receptive.py``). Nothing here imports torch; ``onnx`` is
imported only when a graph must be built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tts_accel.core.errors import GraphSplitError, ModelError, output_error
from tts_accel.core.files.cache import cache_dir, model_digest, verified, write_verified
from tts_accel.core.versions import dist_version

#: Public tensor names of the split graphs.
TEXT_INPUTS = ("input", "input_lengths", "scales")
Z_P = "z_p"  # (1, C, F) float32: the prior latent, noise included (text stage -> flow)
Z = "z"  # (1, C, F) float32: the decoder's latent (flow -> decoder)
FRAMES_PER_ID = "frames_per_id"  # (1, 1, T) float32 holding integers
AUDIO = "audio"  # (1, 1, F * HOP) float32
ORIGINAL_OUTPUT = "output"


#: The fix every split error names.
FIX = "this voice cannot stream window by window; run it on whole chunks (--windows off, or --mode sequential)"


def _not_piper(why: str) -> GraphSplitError:
    return GraphSplitError(f"{why}: not a Piper VITS graph, so {FIX}.")


def _load(model_path: Path):  # type: ignore[no-untyped-def]
    from tts_accel.core.onnx.graphs import needs_onnx

    onnx = needs_onnx("splitting the voice into stages")
    try:
        return onnx.load(str(model_path))
    except Exception as err:  # the protobuf parser raises its own types on a broken file
        raise ModelError(f"could not load {model_path}: {err}. Reinstall the voice package.") from err


def find_seam(model) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Tensor names in the original graph: ``frames_per_id``, ``z_p``, ``z``, ``mask``."""
    nodes = list(model.graph.node)
    consumers: dict[str, list] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    ceils = [n for n in nodes if n.op_type == "Ceil"]
    if len(ceils) != 1:
        raise _not_piper(f"expected one Ceil (the durations), found {len(ceils)}")
    noise = [n for n in nodes if n.op_type == "RandomNormalLike"]
    if len(noise) != 2:
        raise _not_piper(f"expected two RandomNormalLike (duration and prior noise), found {len(noise)}")
    # z_p: follow Mul nodes forward from the prior noise until the Add that forms it.
    tensor, z_p = noise[-1].output[0], None
    for _ in range(4):
        nxt = consumers.get(tensor, [])
        if len(nxt) != 1:
            break
        if nxt[0].op_type == "Add":
            z_p = nxt[0].output[0]
            break
        if nxt[0].op_type != "Mul":
            break
        tensor = nxt[0].output[0]
    if z_p is None:
        raise _not_piper("no z_p = m_p + noise * exp(logs_p) after the prior noise")
    conv_pre = [n for n in nodes if n.op_type == "Conv" and n.name.endswith("dec/conv_pre/Conv")]
    if len(conv_pre) != 1:
        raise _not_piper("no /dec/conv_pre/Conv")
    z = conv_pre[0].input[0]
    producer = {out: n for n in nodes for out in n.output}
    mul = producer.get(z)
    if mul is None or mul.op_type != "Mul":
        raise _not_piper(f"the decoder input {z} is not flow(z_p) * y_mask")
    # y_mask is the factor of that Mul that does not come from the flow: the one z_p does not reach.
    reach = _downstream(z_p, consumers)
    masks = [name for name in mul.input if name not in reach]
    if len(masks) != 1:
        raise _not_piper(f"no frame mask among the inputs of {mul.name}")
    return {"frames_per_id": ceils[0].output[0], "z_p": z_p, "z": z, "mask": masks[0]}


def _downstream(tensor: str, consumers: dict[str, list]) -> set[str]:
    seen, todo = {tensor}, [tensor]
    while todo:
        for node in consumers.get(todo.pop(), []):
            for out in node.output:
                if out not in seen:
                    seen.add(out)
                    todo.append(out)
    return seen


def _rename(graph, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


def _set_dims(value_info, dims: list[int | str]) -> None:  # type: ignore[no-untyped-def]
    shape = value_info.type.tensor_type.shape
    shape.ClearField("dim")
    for d in dims:
        dim = shape.dim.add()
        if isinstance(d, int):
            dim.dim_value = d
        else:
            dim.dim_param = d


def _extract(model, inputs: list[str], outputs: list[str]):  # type: ignore[no-untyped-def]
    from onnx.utils import Extractor

    return Extractor(model).extract_model(inputs, outputs)


def text_model(model):  # type: ignore[no-untyped-def]
    """ids (1, T), input_lengths (1,), scales (3,) -> z_p (1, C, F), frames_per_id (1, 1, T).

    Both ``RandomNormalLike`` draws (duration noise, prior noise) are inside: windows of the
    acoustic stage all read the same noise, drawn once per sentence."""
    seam = find_seam(model)
    sub = _extract(model, list(TEXT_INPUTS), [seam["z_p"], seam["frames_per_id"]])
    graph = sub.graph
    _rename(graph, seam["z_p"], Z_P)
    _rename(graph, seam["frames_per_id"], FRAMES_PER_ID)
    _set_dims(graph.output[0], [1, _latent_channels(model, seam["z"]), "frames"])
    _set_dims(graph.output[1], [1, 1, "ids"])
    graph.name = "piper_text_stage"
    return sub


def _without_mask(model, start: str, end: str):  # type: ignore[no-untyped-def]
    """The subgraph ``start`` -> ``end`` with every product with ``y_mask`` made an Identity."""
    import onnx

    seam = find_seam(model)
    mask = seam["mask"]
    sub = _extract(model, [start, mask], [end])
    graph = sub.graph
    for i, node in enumerate(graph.node):
        if mask not in node.input:
            continue
        if node.op_type != "Mul" or len(node.input) != 2:
            raise GraphSplitError(f"{node.name} uses the frame mask in a {node.op_type}, so {FIX}.")
        other = node.input[1] if node.input[0] == mask else node.input[0]
        graph.node[i].CopyFrom(onnx.helper.make_node("Identity", [other], list(node.output), name=node.name))
    kept = [vi for vi in graph.input if vi.name != mask]
    graph.ClearField("input")
    graph.input.extend(kept)
    return sub


def flow_model(model):  # type: ignore[no-untyped-def]
    """z_p (1, C, F) -> z (1, C, F): the flow, run in reverse, with its frame-mask products
    replaced by ``Identity`` (the mask is all ones for one sentence)."""
    seam = find_seam(model)
    sub = _without_mask(model, seam["z_p"], seam["z"])
    graph = sub.graph
    _rename(graph, seam["z_p"], Z_P)
    _rename(graph, seam["z"], Z)
    channels = _latent_channels(model, seam["z"])
    _set_dims(graph.input[0], [1, channels, "frames"])
    _set_dims(graph.output[0], [1, channels, "frames"])
    graph.name = "piper_flow"
    return sub


def flow_decoder_model(model):  # type: ignore[no-untyped-def]
    """z_p (1, C, F) -> audio: flow and decoder as one graph (43 frames of context each side).
    Measured against the two-graph acoustic stage, not used by it (docs/streaming.md: the cut)."""
    seam = find_seam(model)
    sub = _without_mask(model, seam["z_p"], ORIGINAL_OUTPUT)
    graph = sub.graph
    _rename(graph, seam["z_p"], Z_P)
    _rename(graph, ORIGINAL_OUTPUT, AUDIO)
    _set_dims(graph.input[0], [1, _latent_channels(model, seam["z"]), "frames"])
    _set_dims(graph.output[0], [1, 1, "samples"])
    graph.name = "piper_flow_decoder"
    return sub


def text_flow_model(model):  # type: ignore[no-untyped-def]
    """The text stage with the flow inside (ids -> z, frames_per_id): the other cut, measured
    against the split that windows the flow, not used by it (docs/streaming.md: the cut)."""
    seam = find_seam(model)
    sub = _extract(model, list(TEXT_INPUTS), [seam["z"], seam["frames_per_id"]])
    graph = sub.graph
    _rename(graph, seam["z"], Z)
    _rename(graph, seam["frames_per_id"], FRAMES_PER_ID)
    graph.name = "piper_text_flow_stage"
    return sub


def decoder_model(model):  # type: ignore[no-untyped-def]
    """z (1, C, F) -> audio (1, 1, F * HOP): the HiFi-GAN generator, untouched."""
    seam = find_seam(model)
    sub = _extract(model, [seam["z"]], [ORIGINAL_OUTPUT])
    graph = sub.graph
    _rename(graph, seam["z"], Z)
    _rename(graph, ORIGINAL_OUTPUT, AUDIO)
    _set_dims(graph.input[0], [1, _latent_channels(model, seam["z"]), "frames"])
    _set_dims(graph.output[0], [1, 1, "samples"])
    graph.name = "piper_decoder"
    return sub


def _latent_channels(model, z: str) -> int:  # type: ignore[no-untyped-def]
    conv_pre = next(n for n in model.graph.node if n.op_type == "Conv" and n.input[0] == z)
    weight = next(t for t in model.graph.initializer if t.name == conv_pre.input[1])
    return int(weight.dims[1])  # (out, in, k)


def _save(model, path: Path) -> None:  # type: ignore[no-untyped-def]
    try:
        write_verified(path, model.SerializeToString())
    except OSError as err:
        raise output_error(path, err, "cache the split graph in") from None


@dataclass(frozen=True)
class StageGraphs:
    """The three graphs a Piper voice splits into (paths in one cache folder)."""

    text: Path  # ids -> z_p, frames_per_id
    flow: Path  # z_p -> z (windowed, 32 frames of context each side for joe)
    decoder: Path  # z -> audio (windowed, 11 frames each side for joe)


#: File names inside the split folder; bump the version when the split changes.
SPLIT_VERSION = 4
#: Metadata key on the text graph: how many attention layers run in band form (banded_attention.py).
META_BAND = "tts_accel.band_layers"
#: Id sequences the banded text graph is checked on before it is kept (valid ids of any Piper
#: voice: BOS 1, pad 0, EOS 2, phoneme ids from 3): a short one (T < 2w + 1) and a longer one.
_CHECK_IDS = ([1, 0, 20, 0, 2], [1, 0, *[x for k in range(60) for x in (3 + (k * 7) % 40, 0)], 2])


def banded_text_model(model):  # type: ignore[no-untyped-def]
    """The text graph with its relative-position attention in band form (``banded_attention.py``), when the
    rewrite applies and gives the original's frames per id exactly and its latent to float
    rounding on check ids; else the plain text graph. 1.3x faster at 377 ids, 1.5x at 719 (1
    thread, dev VM), the same bits out on every text measured (docs/streaming.md)."""
    import copy

    import numpy as np
    import onnxruntime as ort

    from tts_accel.core.voices.piper import banded_attention as band

    plain = text_model(model)
    banded = copy.deepcopy(plain)
    layers = band.rewrite(banded)
    if layers:
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.log_severity_level = 1, 3
        runs = [
            ort.InferenceSession(g.SerializeToString(), so, providers=["CPUExecutionProvider"]) for g in (plain, banded)
        ]
        for ids in _CHECK_IDS:
            x = np.array([ids], dtype=np.int64)
            feeds = {"input": x, "input_lengths": np.array([x.shape[1]]), "scales": np.array([0, 1, 0], np.float32)}
            (z0, f0), (z1, f1) = (r.run([Z_P, FRAMES_PER_ID], feeds) for r in runs)
            if f0.shape != f1.shape or not np.array_equal(f0, f1) or np.abs(z0 - z1).max() > 1e-5:
                layers = 0
                break
    chosen = banded if layers else plain
    entry = chosen.metadata_props.add()
    entry.key, entry.value = META_BAND, str(layers)
    return chosen


def _stamped(build):  # type: ignore[no-untyped-def]
    def make(model):  # type: ignore[no-untyped-def]
        from tts_accel.core.acoustic.receptive import stamp

        sub = build(model)
        stamp(sub)  # margins and hop in the metadata: sessions read them without onnx.load
        return sub

    return make


BUILDERS = {"text": banded_text_model, "flow": _stamped(flow_model), "decoder": _stamped(decoder_model)}


def split_dir(model_path: Path) -> Path:
    """The cache folder of ``model_path``'s split: keyed by its sha256, the onnx version that
    wrote it and ``SPLIT_VERSION``."""
    key = f"{model_digest(model_path)[:20]}-onnx{dist_version('onnx')}-v{SPLIT_VERSION}"
    return cache_dir() / "split" / key


def split_graph(model_path: str | Path, out_dir: str | Path | None = None) -> StageGraphs:
    """The text, flow and decoder graphs of ``model_path``, written into ``out_dir`` (default:
    ``split_dir(model_path)``) on first use.

    Deterministic (the same bytes for the same model and onnx version) and idempotent: files
    already there and verified are reused, never rewritten. Each file is written to a temporary name and
    renamed, so a crash never leaves a partial graph under a final name. About 0.4 s for the
    63 MB joe voice on the dev VM (quiet; up to 4 s under load). A graph that is not a Piper VITS
    graph, or whose acoustic part looks across time, raises GraphSplitError (or NonLocalError)
    before anything is written.
    """
    out = Path(out_dir) if out_dir is not None else split_dir(Path(model_path))
    paths = {name: out / f"{name}.onnx" for name in BUILDERS}
    # a graph is reused only when it holds the bytes written there (files/cache.py): a truncated
    # or edited one is built again, whatever its size
    missing = [name for name, path in paths.items() if not verified(path)]
    if missing:
        model = _load(Path(model_path))
        built = {name: BUILDERS[name](model) for name in missing}  # every check before any write
        for name, sub in built.items():
            _save(sub, paths[name])
    return StageGraphs(**paths)
