"""An exact rewrite of the text graph's relative-position attention: compute only the band.

Piper's text encoder (VITS ``attentions.MultiHeadAttention``, window 4) adds relative-position
terms to every attention layer the way the exporter traced them: the 9 learned embeddings are
zero-padded to 2T-1 positions, multiplied with every query into a (T, 2T-1) tensor, and shuffled
through Pad / Reshape / Slice into (T, T) scores; the attention weights go the opposite way to
meet the value embeddings. Only 9 diagonals are ever non-zero, yet the work and the traffic are
quadratic: at 719 ids about 40 % of the text stage (ORT's profile, docs/streaming.md).

Per layer, with w the window (4) and E_k, E_v the (2w+1, d) embeddings:

    scores_local[i, j] = q_i . E_k[j - i + w]        for |j - i| <= w, else 0
    out_rel[i]         = sum_r p[i, i + r - w] E_v[r]  over the r with 0 <= i + r - w < T

So ``B = q @ E_k^T`` is (T, 2w+1), laid onto the band of a (T, T) tensor by one pad and a
strided view (``rewrite``'s comments); the weights' band is gathered from ``p`` as (T, 2w+1)
and multiplied by E_v. The padding mask before each Softmax goes too: the text stage runs one
sentence at its full length, so that mask is all ones (``Where`` would return the scores as
they are). The same products and
sums as the original up to float rounding (other GEMM shapes sum in another order); the zeros
outside the band stay exact zeros. The formulas hold for every T (for T <= w the original's
slice of the embeddings gives the same offsets), and ``rewrite`` checks the new graph against
the old one on real ids before it is used (``split.py``).

The layers are found from the structure around each ``emb_rel_k`` / ``emb_rel_v`` initializer:
the MatMul that reads the padded embeddings, the chain of Pad / Reshape / Slice that leads from
it to the Add with the content scores (keys) or back from it to the Softmax (values). A graph
without that shape is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Ops the exporter traced for the relative <-> absolute shuffles (and the embeddings' padding).
_SHUFFLE = frozenset({"Pad", "Reshape", "Slice", "Unsqueeze", "Transpose", "Squeeze"})


@dataclass(frozen=True)
class _Layer:
    q: str  # (B, H, T, d) scaled queries
    local: str  # (B, H, T, T) the relative scores the content scores are added to
    local_consumer: int  # index of the Add node that reads ``local``
    p: str  # (B, H, T, T) attention weights (the Softmax output)
    rel_v: str  # (B, H, T, d) the relative-value product that is added to the output
    emb_k: str
    emb_v: str


def _graph_maps(graph):  # type: ignore[no-untyped-def]
    producer = {out: (i, n) for i, n in enumerate(graph.node) for out in n.output}
    consumers: dict[str, list[tuple[int, object]]] = {}
    for i, n in enumerate(graph.node):
        for name in n.input:
            consumers.setdefault(name, []).append((i, n))
    return producer, consumers


def _reaches(start: str, consumers, ops: frozenset[str]) -> set[str]:  # type: ignore[no-untyped-def]
    """Tensors reachable from ``start`` through nodes of ``ops`` (on their data input)."""
    seen, todo = {start}, [start]
    while todo:
        for _, node in consumers.get(todo.pop(), []):
            if node.op_type in ops and node.input and node.input[0] in seen:
                for out in node.output:
                    if out not in seen:
                        seen.add(out)
                        todo.append(out)
    return seen


def find_layers(model) -> list[_Layer]:  # type: ignore[no-untyped-def]
    """Every attention layer whose relative-position terms have the traced shape."""
    graph = model.graph
    producer, consumers = _graph_maps(graph)
    inits = {t.name: t for t in graph.initializer}
    layers = []
    for name, init in inits.items():
        if not name.endswith("emb_rel_k") or len(init.dims) != 3 or init.dims[1] % 2 != 1:
            continue
        emb_v = name[: -len("emb_rel_k")] + "emb_rel_v"
        if emb_v not in inits or list(inits[emb_v].dims) != list(init.dims):
            continue
        k_side = _reaches(name, consumers, _SHUFFLE)
        v_side = _reaches(emb_v, consumers, _SHUFFLE)
        mm_k = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in k_side]
        mm_v = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in v_side]
        if len(mm_k) != 1 or len(mm_v) != 1:
            continue
        # keys: from the relative logits through the shuffles to the Add with the content scores
        ahead = _reaches(mm_k[0].output[0], consumers, _SHUFFLE)
        adds = [(i, n) for i, n in enumerate(graph.node) if n.op_type == "Add" and any(x in ahead for x in n.input)]
        if len(adds) != 1:
            continue
        add_index, add = adds[0]
        local = next(x for x in add.input if x in ahead)
        # values: back from the relative weights through the shuffles to the Softmax
        tensor = mm_v[0].input[0]
        while tensor in producer and producer[tensor][1].op_type in _SHUFFLE:
            tensor = producer[tensor][1].input[0]
        if tensor not in producer or producer[tensor][1].op_type != "Softmax":
            continue
        layers.append(_Layer(mm_k[0].input[0], local, add_index, tensor, mm_v[0].output[0], name, emb_v))
    return layers


def rewrite(model) -> int:  # type: ignore[no-untyped-def]
    """Replace every relative-position block of ``model`` (in place) by its band form; returns
    the number of layers rewritten (0: the graph is left as it was). Dead nodes are pruned."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    layers = find_layers(model)
    if not layers:
        return 0
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    width = int(inits[layers[0].emb_k].dims[1])  # 2w + 1
    w = width // 2
    nodes: list = []
    consts: list = []

    def const(name: str, value) -> str:  # type: ignore[no-untyped-def]
        consts.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs) -> str:  # type: ignore[no-untyped-def]
        nodes.append(helper.make_node(op, inputs, [out], name=f"/band/{out}", **attrs))
        return out

    # index tensors, once for all layers (T is the sentence's length in every layer)
    p = "band/"
    shape = node("Shape", [layers[0].q], p + "q_shape")
    t = node("Gather", [shape, const(p + "two", np.array(2, np.int64))], p + "t", axis=0)  # scalar
    t1d = node("Unsqueeze", [t, const(p + "ax0", np.array([0], np.int64))], p + "t1d")  # (1,)
    zero, one = const(p + "zero", np.array(0, np.int64)), const(p + "one", np.array(1, np.int64))
    # keys: scores_local[i, j] = B[i, j - i + w] on the band, 0 elsewhere. With B padded by one
    # zero row and T + 1 zero columns (width L = width + T + 1), element (i, j - i + w) sits at
    # flat index i * (L - 1) + j + w: a contiguous run of T rows of stride L - 1, whose first T
    # columns are the band in place and whose wrapped entries (j - i + w < 0 or > 2w) all land
    # on padding. So: pad, flatten, slice from w, reshape, slice T columns; no gather, no mask.
    stride = node("Add", [t1d, const(p + "width", np.array([width], np.int64))], p + "stride")  # (1,) L - 1
    pads = node(
        "Concat",
        [
            const(p + "pads0", np.array([0, 0, 0, 0, 0, 0, 1], np.int64)),
            node("Add", [t1d, const(p + "one1", np.array([1], np.int64))], p + "t_plus_1"),
        ],
        p + "pads",
        axis=0,
    )  # fmt: skip  (8,): one row below, T + 1 columns right
    run_start = const(p + "run_start", np.array([w], np.int64))
    run_end = node("Add", [node("Mul", [t1d, stride], p + "t_stride"), run_start], p + "run_end")
    axis2 = const(p + "axis2", np.array([2], np.int64))
    axis3 = const(p + "axis3", np.array([3], np.int64))
    zero1 = const(p + "zero1", np.array([0], np.int64))
    rows_shape = node(
        "Concat", [const(p + "keep2", np.array([0, 0], np.int64)), t1d, stride], p + "rows_shape", axis=0
    )  # fmt: skip  (0, 0, T, L - 1)
    # values: band[i, r] = p[i, i + r - w] for 0 <= i + r - w < T: a (T, width) gather from p
    # (cheap: 2w + 1 per row) of flat index i * T + clip(i + r - w), then a mask
    ar = node("Range", [zero, t, one], p + "ar")  # (T,)
    col = node("Unsqueeze", [ar, const(p + "ax1", np.array([1], np.int64))], p + "i")  # (T, 1)
    r = const(p + "r", (np.arange(width, dtype=np.int64) - w)[np.newaxis, :])  # (1, width)
    src = node("Add", [col, r], p + "i_r")  # (T, width): i + r - w
    t_minus_1 = node("Sub", [t, one], p + "t1")
    src_c = node("Min", [node("Max", [src, zero], p + "src0"), t_minus_1], p + "src_c")
    flat_v = node("Add", [node("Mul", [col, t], p + "i_t"), src_c], p + "flat_v")  # (T, width)
    valid = node("And", [node("GreaterOrEqual", [src, zero], p + "ge0"), node("Less", [src, t], p + "ltt")], p + "ok")
    mask_v = node("Cast", [valid], p + "mask_v", to=TensorProto.FLOAT)  # (T, width)
    flat3 = const(p + "flat3", np.array([0, 0, -1], np.int64))  # (B, H, rest)

    rewired = {}  # old tensor -> new tensor
    for n, layer in enumerate(layers):
        q = f"band{n}/"
        e_k = numpy_helper.to_array(inits[layer.emb_k])  # (1, width, d)
        e_v = numpy_helper.to_array(inits[layer.emb_v])
        ekt = const(q + "emb_k_t", np.ascontiguousarray(e_k.transpose(0, 2, 1)))  # (1, d, width)
        ev = const(q + "emb_v", np.ascontiguousarray(e_v))  # (1, width, d)
        band_k = node("MatMul", [layer.q, ekt], q + "band_k")  # (B, H, T, width)
        padded = node("Pad", [band_k, pads], q + "band_k_pad")  # (B, H, T + 1, width + T + 1)
        run = node(
            "Slice", [node("Reshape", [padded, flat3], q + "band_k_flat"), run_start, run_end, axis2], q + "band_k_run"
        )  # fmt: skip  (B, H, T * (L - 1))
        rows = node("Reshape", [run, rows_shape], q + "band_k_rows")  # (B, H, T, L - 1)
        rewired[layer.local] = node("Slice", [rows, zero1, t1d, axis3], q + "local")  # (B, H, T, T)
        p_flat = node("Reshape", [layer.p, flat3], q + "p_flat")  # (B, H, T * T)
        band_p = node("Mul", [node("Gather", [p_flat, flat_v], q + "band_p_raw", axis=2), mask_v], q + "band_p")
        rewired[layer.rel_v] = node("MatMul", [band_p, ev], q + "rel_v")  # (B, H, T, d)
    # The padding mask of the attention scores: Where(mask == 0, -1e4, scores) before each
    # Softmax. The text stage runs one sentence at its full length (input_lengths = T), so the
    # mask is all ones and the Where returns its scores unchanged: read the scores directly.
    producer, consumers = _graph_maps(graph)
    for softmax in (n for n in graph.node if n.op_type == "Softmax"):
        where = producer.get(softmax.input[0], (0, None))[1]
        if where is None or where.op_type != "Where" or len(consumers.get(where.output[0], [])) != 1:
            continue
        equal = producer.get(where.input[0], (0, None))[1]
        if equal is not None and equal.op_type == "Equal":
            rewired[where.output[0]] = where.input[2]
    for old in graph.node:
        old.input[:] = [rewired.get(x, x) for x in old.input]
    # the new nodes go right after the node that produces the last tensor they read
    graph.node.extend(nodes)
    graph.initializer.extend(consts)
    sorted_nodes = _toposort(graph)
    graph.ClearField("node")
    graph.node.extend(sorted_nodes)
    pruned = onnx.utils.Extractor(model).extract_model([i.name for i in graph.input], [o.name for o in graph.output])
    model.graph.CopyFrom(pruned.graph)
    return len(layers)


def _toposort(graph) -> list:  # type: ignore[no-untyped-def]
    """The graph's nodes in an order where every input is produced before it is read."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        left = []
        for node in pending:
            if all(x in known for x in node.input):
                ordered.append(node)
                known.update(node.output)
            else:
                left.append(node)
        if len(left) == len(pending):
            raise ValueError(f"cycle or missing input at {left[0].name}")
        pending = left
    return ordered
