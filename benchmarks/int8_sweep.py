"""int8 per-layer sensitivity sweep on the Piper decoder, then greedy subsets: speed against quality.

1. Each decoder Conv / ConvTranspose quantized alone (static QDQ, per-channel int8 weights, uint8
   activations, MinMax calibration on paragraph.txt latents at the voice's default noise scales:
   the landed int8 copy's recipe): SNR and MCD of the decoder's output against fp32 on the first
   ``--eval`` Harvard sentences, and the layer's share of ORT fp32 decoder time (ORT's profiler on
   one 288-frame window of long.txt).
2. Layers sorted least sensitive first (MCD alone); the first k quantized together for each k of
   ``--ks``: speed against ORT fp32 (the same window, alternated, medians), SNR, MCD (22.05 and
   16 kHz), PESQ-WB on all 20 sentences, and Whisper's WER for the k of ``--wer-ks``.

The verdict it supports (docs/acoustic.md): the layers that keep the voice are the early,
low-sample-rate ones, a tenth of the time; no subset is both the same voice and meaningfully
faster, so int8 stays available by flag (``--acoustic ort-int8``) and is never chosen by ``auto``.

    pip install 'tts-accel[eval]'; nice -n 5 python benchmarks/int8_sweep.py --json int8_sweep.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 22050
CALIBRATION_SCALES = (0.667, 1.0, 0.8)  # as graph_cache.py calibrates the landed copy


def quantize_subset(graph: Path, nodes: list[str], calibration: list[np.ndarray], dst: Path) -> Path:
    """A QDQ copy of the decoder ``graph`` with only ``nodes`` quantized (calibrated on latents)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from tts_accel.core.acoustic.ort import Z

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._left = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            z = next(self._left, None)
            return None if z is None else {Z: np.ascontiguousarray(z, dtype=np.float32)[None]}

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs an advisory warning on the root logger
    try:
        quantize_static(
            str(graph), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "ConvTranspose"], nodes_to_quantize=nodes,
            calibrate_method=CalibrationMethod.MinMax,
        )  # fmt: skip
    finally:
        root.setLevel(level)
    return dst


def node_times(graph: Path, latent: np.ndarray, runs: int = 5) -> dict[str, float]:
    """Seconds per run in each node of ``graph`` (ORT's profiler, 1 thread)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = str(Path(tempfile.gettempdir()) / "int8sweep")
    sess = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: np.ascontiguousarray(latent, dtype=np.float32)[None]}
    for _ in range(runs + 1):
        sess.run(None, feed)
    path = sess.end_profiling()
    events = json.loads(Path(path).read_text())
    with contextlib.suppress(OSError):
        os.unlink(path)
    totals: dict[str, float] = {}
    for ev in events:
        if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
            name = ev["name"].removesuffix("_kernel_time")
            totals[name] = totals.get(name, 0.0) + ev["dur"] * 1e-6 / (runs + 1)
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=int, default=6, help="Harvard sentences for the per-layer step")
    ap.add_argument("--ks", default="2,4,6,8,10,12,14,16,18,20,23")
    ap.add_argument("--wer-ks", default="4,8,12,16,23", help="subsets also scored by Whisper (eval extra)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort

    from tts_accel.core.acoustic.ort import AUDIO as AUDIO_OUTPUT
    from tts_accel.core.acoustic.ort import OrtDecoderEngine
    from tts_accel.core.hardware.profile import machine_label
    from tts_accel.core.onnx.graphs import with_outputs
    from tts_accel.core.text.samples import harvard_sentences, read_text
    from tts_accel.core.verify.quality import mcd16_db, mcd_db, pesq_wb, snr_db
    from tts_accel.core.voices.piper.acoustic import DECODER_INPUT
    from tts_accel.core.voices.registry import family_of, resolve_voice

    voice = resolve_voice("piper-joe")
    lab = family_of("piper-joe").acoustic.lab(voice)  # type: ignore[union-attr]
    fp32 = lab.source.decoder("fp32")  # the split decoder: z -> audio
    texts = harvard_sentences()
    data = lab.utterances(texts)
    tapped = with_outputs(lab.model_path, {DECODER_INPUT: "z"}, "tap-decoder-z", "tapping the decoder's input")
    tap = ort.InferenceSession(str(tapped), providers=["CPUExecutionProvider"])
    calib = []
    for ids in voice.calibration_ids():  # type: ignore[attr-defined]
        feeds = {"input": ids[None], "input_lengths": np.array([len(ids)], np.int64),
                 "scales": np.array(CALIBRATION_SCALES, np.float32)}  # fmt: skip
        calib.append(tap.run(["z"], feeds)[0][0])
    nodes = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type in ("Conv", "ConvTranspose")]
    long = max(lab.utterances([read_text("long")]), key=lambda u: u.z.shape[1])
    window = np.ascontiguousarray(long.z[:, 100:388])  # 288 frames: 256 core + 2 x 16 margin
    share = node_times(fp32, window)
    total = sum(share.values())
    print(f"# {machine_label()}, load {os.getloadavg()[0]:.1f}; {len(nodes)} decoder convs; "
          f"calibration on {len(calib)} paragraph sentences; output {AUDIO_OUTPUT}")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="int8-sweep-"))

    def outputs(graph: Path, which: range | list[int]) -> list[np.ndarray]:
        engine = OrtDecoderEngine(graph)
        return [engine.run(data[i].z) for i in which]

    per_layer = []
    for node in nodes:
        g = quantize_subset(fp32, [node], calib, work / f"single-{len(per_layer)}.onnx")
        outs = outputs(g, range(args.eval))
        refs = [data[i].audio for i in range(args.eval)]
        stem = node.rsplit("/", 1)[0] + "/"
        row = {"node": node, "snr_db": float(np.median([snr_db(r, o) for r, o in zip(refs, outs, strict=True)])),
               "mcd_db": float(np.mean([mcd_db(r, o, SR) for r, o in zip(refs, outs, strict=True)])),
               "time_share": sum(v for k, v in share.items() if k.startswith(stem)) / total}  # fmt: skip
        per_layer.append(row)
        print(json.dumps(row), flush=True)

    order = sorted(per_layer, key=lambda r: r["mcd_db"])
    base = OrtDecoderEngine(fp32)
    wer_ks = {int(k) for k in args.wer_ks.split(",") if k}
    subsets = []
    for k in (min(int(v), len(order)) for v in args.ks.split(",")):
        chosen = [r["node"] for r in order[:k]]
        engine = OrtDecoderEngine(quantize_subset(fp32, chosen, calib, work / f"greedy-{k}.onnx"))
        tb, tq = [], []
        base.run(window), engine.run(window)
        for _ in range(args.repeats):  # alternated
            t0 = time.perf_counter()
            base.run(window)
            tb.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            engine.run(window)
            tq.append(time.perf_counter() - t0)
        outs = [engine.run(u.z) for u in data]
        pairs = list(zip([u.audio for u in data], outs, strict=True))
        scores = [pesq_wb(r, o, SR) for r, o in pairs]
        row = {"k": k, "nodes": chosen, "speed_vs_fp32": float(np.median(tb) / np.median(tq)),
               "share_quantized": float(sum(r["time_share"] for r in order[:k])),
               "snr_median_db": float(np.median([snr_db(r, o) for r, o in pairs])),
               "mcd_db": float(np.mean([mcd_db(r, o, SR) for r, o in pairs])),
               "mcd16_db": float(np.median([mcd16_db(r, o, SR) for r, o in pairs])),
               "pesq_wb": float(np.median([s for s in scores if s is not None])) if any(scores) else None}  # fmt: skip
        if k in wer_ks or k == len(order):
            row.update(_wer(texts, outs, [u.audio for u in data]))
        subsets.append(row)
        print(json.dumps({key: v for key, v in row.items() if key != "nodes"}), flush=True)

    print("\n| layer | alone: SNR dB | alone: MCD dB | share of ORT fp32 decoder time |\n|---|---|---|---|")
    for r in order:
        print(f"| {r['node']} | {r['snr_db']:.1f} | {r['mcd_db']:.3f} | {100 * r['time_share']:.1f} % |")
    print("\n| convs quantized (least sensitive first) | fp32 time share | speed vs ORT fp32 | SNR dB | MCD 22 kHz | "
          "MCD16 | PESQ-WB | WER (fp32) |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for r in subsets:
        wer = f"{r['wer']:.1f} % ({r['wer_fp32']:.1f} %)" if "wer" in r else "-"
        pesq = f"{r['pesq_wb']:.2f}" if r["pesq_wb"] is not None else "-"
        print(f"| {r['k']} | {100 * r['share_quantized']:.0f} % | {r['speed_vs_fp32']:.2f}x | {r['snr_median_db']:.1f} "
              f"| {r['mcd_db']:.2f} | {r['mcd16_db']:.2f} | {pesq} | {wer} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_label(), "per_layer": per_layer, "subsets": subsets},
                                        indent=1))  # fmt: skip


_HEARD: dict[str, list[str]] = {}


def _wer(texts: list[str], outs: list[np.ndarray], refs: list[np.ndarray]) -> dict[str, float]:
    """Whisper's WER of ``outs`` and of the fp32 references (per cent); {} without the eval extra."""
    try:
        from tts_accel.core.verify.asr import default_transcriber
        from tts_accel.core.verify.wer import wer
    except ImportError:
        return {}
    try:
        asr = default_transcriber()
    except Exception:
        return {}
    if "fp32" not in _HEARD:
        _HEARD["fp32"] = [asr.transcribe(a, SR) for a in refs]
    heard = [asr.transcribe(a, SR) for a in outs]
    return {"wer": 100.0 * wer(texts, heard).rate, "wer_fp32": 100.0 * wer(texts, _HEARD["fp32"]).rate}


if __name__ == "__main__":
    main()
