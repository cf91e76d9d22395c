"""Does the Kokoro-82M int8 ONNX graph split like Piper's? The evidence, printed.

1. the graph: inputs, outputs, op counts;
2. the durations: the chain that makes them, and sum x 600 == audio length at several speeds;
3. the decoder's inputs (where a text stage would end) and a decoder extracted at them, checked
   against the whole graph;
4. what in the decoder is not local in time (normalisations over time, per-tensor int8 ranges,
   the phase accumulator, recurrent layers), with probes of those tensors on a window;
5. windowed decoding against the whole decoder, for several margins;
6. time of the text side and of the decoder on one sentence (preliminary: the machine is shared).

    python benchmarks/kokoro_graph.py     # needs the kokoro extra; graphs go to a temporary folder

Its output on the dev VM is quoted in docs/kokoro.md ("Two stages: what Kokoro's graph allows").
"""

from __future__ import annotations

import collections
import tempfile
import time
from pathlib import Path

import numpy as np

KOKORO_DURATIONS = "/encoder/Clip_output_0"  # (1, N + 2): frames per token, pads included
KOKORO_HOP = 600  # samples per frame

ASR = "/encoder/MatMul_1_output_0"  # (1, 512, F): text features expanded by the alignment
F0 = "/encoder/Reshape_output_0"  # (1, 2F): predicted F0 curve, two values per frame
N = "/encoder/Reshape_1_output_0"  # (1, 2F): predicted energy (noise) curve
ALIGNMENT = "/encoder/Cast_4_output_0"  # (N + 2, F): 0/1 alignment matrix from the durations
_DEC = "/decoder/decoder"
PROBES = {
    "instance-norm mean, decoder.encode.norm1 (ReduceMean over time)": f"{_DEC}/encode/norm1/ReduceMean_output_0",
    "int8 scale of decoder.encode's activation (DynamicQuantizeLinear)": f"{_DEC}/encode/actv/LeakyRelu_output_0_scale",
    "harmonic source after CumSum phase (m_source tanh)": f"{_DEC}/generator/m_source/l_tanh/Tanh_output_0",
    "STFT of the harmonic source": f"{_DEC}/generator/STFT_output_0",
}  # fmt: skip
TEXT = (
    "The town of Merrow sat at the bend of a slow brown river, and for most of its history nothing "
    "much happened there, because the mill turned and the ferry crossed."
)


def extract(model, inputs: list[str], outputs: list[str]):  # type: ignore[no-untyped-def]
    """The nodes ``outputs`` need, given ``inputs`` (onnx.utils.extract_model runs the checker,
    which rejects this graph's com.microsoft ops)."""
    import onnx

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    stop = set(inputs) | {i.name for i in g.initializer} | {i.name for i in g.input}
    keep, seen, stack = set(), set(), list(outputs)
    while stack:
        t = stack.pop()
        if t in seen or t in stop or not t:
            continue
        seen.add(t)
        node = producer[t]
        keep.add(id(node))
        stack.extend(node.input)
    nodes = [n for n in g.node if id(n) in keep]
    used = {i for n in nodes for i in n.input}
    graph = onnx.helper.make_graph(
        nodes,
        "kokoro-decoder",
        [i for i in g.input if i.name in used]
        + [
            onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None)
            for t in inputs
            if t not in {i.name for i in g.input}
        ],
        [o for o in g.output if o.name in outputs]
        + [onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None) for t in outputs if t != "audio"],
        [i for i in g.initializer if i.name in used],
    )
    out = onnx.helper.make_model(graph, opset_imports=model.opset_import)
    out.ir_version = model.ir_version
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kokoro-graph-") as tmp:
        report(Path(tmp))


def report(CACHE: Path) -> None:  # noqa: N803 - the folder every derived graph goes to
    import onnx
    import onnxruntime as ort

    from tts_accel.core.voices.registry import resolve_voice

    voice = resolve_voice("kokoro-jf_alpha").for_language("en-us")
    path = Path(voice.assets.model_path)
    model = onnx.load(str(path))
    g = model.graph
    print(f"== 1. graph {path.name}: {len(g.node)} nodes")
    shape = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    print("inputs ", [(i.name, shape(i)) for i in g.input])
    print("outputs", [(o.name, shape(o)) for o in g.output])
    print("ops    ", collections.Counter(n.op_type for n in g.node).most_common())
    lstms = [n.name for n in g.node if "LSTM" in n.op_type or "GRU" in n.op_type]
    print("recurrent layers:", lstms)

    print("\n== 2. durations")
    producer = {o: n for n in g.node for o in n.output}
    t, chain = KOKORO_DURATIONS, []
    for _ in range(5):
        n = producer[t]
        chain.append(f"{n.op_type} {n.name}")
        t = n.input[0]
    print("chain (output first):", " <- ".join(chain))
    debug = model
    for name in (KOKORO_DURATIONS, ASR, F0, N, ALIGNMENT):
        debug.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    onnx.save(debug, str(CACHE / "kokoro-debug.onnx"))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    full = ort.InferenceSession(str(CACHE / "kokoro-debug.onnx"), so, providers=["CPUExecutionProvider"])
    plain = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    ids = voice.encode(TEXT)
    style = voice.assets.styles[len(ids)].reshape(1, 256)
    tokens = np.concatenate(([0], ids, [0])).astype(np.int64)[np.newaxis, :]
    for speed in (0.8, 1.0, 1.3):
        feeds = {"tokens": tokens, "style": style, "speed": np.array([speed], np.float32)}
        audio, dur, asr, f0, nn, aln = full.run(None, feeds)
        same = np.array_equal(audio, plain.run(None, feeds)[0])
        print(f"speed {speed}: durations {dur.shape} (tokens with pads {tokens.shape[1]}), sum {int(dur.sum())} "
              f"x {KOKORO_HOP} = {int(dur.sum()) * KOKORO_HOP}, audio {audio.size}; "
              f"asr {asr.shape}, F0 {f0.shape}, N {nn.shape}, alignment {aln.shape}; "
              f"extra outputs change the audio: {not same}")  # fmt: skip
        assert int(dur.sum()) * KOKORO_HOP == audio.size
        assert np.array_equal(aln.sum(axis=1), dur.reshape(-1))  # the alignment expands by exactly these

    print("\n== 3. decoder at", [ASR, F0, N, "style"])
    feeds = {"tokens": tokens, "style": style, "speed": np.array([1.0], np.float32)}
    audio, dur, asr, f0, nn, _ = full.run(None, feeds)
    dec_model = extract(onnx.load(str(path)), [ASR, F0, N], ["audio", *PROBES.values()])
    onnx.save(dec_model, str(CACHE / "kokoro-decoder.onnx"))
    dec_nodes = [n for n in dec_model.graph.node]
    print(f"decoder: {len(dec_nodes)} of {len(g.node)} nodes; first nodes on its inputs:",
          sorted({n.name for n in dec_nodes if set(n.input) & {ASR, F0, N}}))  # fmt: skip
    print("decoder ops:", collections.Counter(n.op_type for n in dec_nodes).most_common())
    dec = ort.InferenceSession(str(CACHE / "kokoro-decoder.onnx"), so, providers=["CPUExecutionProvider"])

    def decode(a: int, b: int) -> list[np.ndarray]:
        return dec.run(None, {"style": style, ASR: asr[:, :, a:b], F0: f0[:, 2 * a : 2 * b], N: nn[:, 2 * a : 2 * b]})

    whole = decode(0, asr.shape[2])
    print("decoder alone vs whole graph, max abs:", float(np.abs(whole[0] - audio).max()))

    print("\n== 4. what is not local in time")
    means = [n for n in dec_nodes if n.op_type == "ReduceMean"]
    print(f"ReduceMean nodes: {len(means)} (two per instance norm: mean and variance over axis 2 = time)")
    print(f"DynamicQuantizeLinear nodes: {sum(n.op_type == 'DynamicQuantizeLinear' for n in dec_nodes)} "
          "(one scale and zero point per whole tensor)")  # fmt: skip
    print("CumSum nodes:", [n.name for n in dec_nodes if n.op_type == "CumSum"])
    print("recurrent layers in the decoder:", [n.name for n in dec_nodes if "LSTM" in n.op_type or "GRU" in n.op_type])
    frames = asr.shape[2]
    prefix = decode(0, frames // 3)
    for (label, _), w, p in zip(PROBES.items(), whole[1:], prefix[1:], strict=True):
        if w.size <= 4:
            print(f"  {label}: whole sentence {w.ravel()[:2]}, first third alone {p.ravel()[:2]}")
        elif w.shape[-1] == 1 and w.shape[1] < 1000:
            print(f"  {label}: shape {w.shape} (one value per channel for the whole sentence); "
                  f"whole vs first third alone: max diff {float(np.abs(w - p).max()):.3g}")  # fmt: skip
        else:
            axis = 1
            k = min(w.shape[axis], p.shape[axis]) // 2
            d = np.abs(np.take(w, range(k), axis=axis) - np.take(p, range(k), axis=axis)).max()
            print(f"  {label}: shape {w.shape}; on the first half of the window: max diff {float(d):.3g}")

    print("\n== 5. windowed decoding (two windows cut at the middle, `margin` frames of context each)")
    hop = KOKORO_HOP
    peak = float(np.abs(whole[0]).max())
    for margin in (8, 32, 64, 128):
        mid = frames // 2
        left = decode(0, min(frames, mid + margin))[0][: mid * hop]
        lo = max(0, mid - margin)
        right = decode(lo, frames)[0][(mid - lo) * hop :]
        joined = np.concatenate([left, right])
        err = joined - whole[0]
        snr = 10 * np.log10((whole[0] ** 2).sum() / (err**2).sum())
        print(f"margin {margin:3d}: same length {joined.size == whole[0].size}, max abs diff {np.abs(err).max():.3f} "
              f"(peak {peak:.3f}), SNR {snr:.1f} dB")  # fmt: skip
    first = decode(0, frames // 3)[0]
    k = (frames // 6) * hop
    diff = np.abs(first[:k] - whole[0][:k]).max()
    print(f"first third decoded alone vs the same samples of the whole: max abs diff {diff:.3f}")
    perturbed = asr.copy()
    perturbed[:, :, -10:] *= 1.5
    moved = dec.run(None, {"style": style, ASR: perturbed, F0: f0, N: nn})[0]
    print(f"scaling the last 10 frames' features by 1.5 changes the first second by up to "
          f"{np.abs(moved[:24000] - whole[0][:24000]).max():.3f}")  # fmt: skip

    print("\n== 6. time, one sentence (preliminary, machine shared)")
    text_side = extract(onnx.load(str(path)), ["tokens", "style", "speed"], [KOKORO_DURATIONS, ASR, F0, N])
    onnx.save(text_side, str(CACHE / "kokoro-text.onnx"))
    ts = ort.InferenceSession(str(CACHE / "kokoro-text.onnx"), so, providers=["CPUExecutionProvider"])
    runs = {"whole graph": lambda: plain.run(None, feeds), "text side": lambda: ts.run(None, feeds),
            "decoder": lambda: decode(0, frames)}  # fmt: skip
    times = collections.defaultdict(list)
    for _ in range(5):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    for name, ts_ in times.items():
        print(f"{name:12s} median {np.median(ts_) * 1000:.0f} ms of {len(ts_)} (audio {audio.size / 24000:.1f} s)")


if __name__ == "__main__":
    main()
