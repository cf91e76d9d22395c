"""`tts serve --max-batch`: windows of equal shape from concurrent requests run as one decoder call,
through the real thing: two server subprocesses on loopback (eager torch fp32 acoustic stage, the
engine that batches on the CPU), three concurrent requests through the openai SDK, the same
samples as the unbatched server and as `tts synth`."""

from __future__ import annotations

import threading
import wave

import numpy as np
import pytest

from tests.utils import Server, run_cli

pytest.importorskip("fastapi")
pytest.importorskip("openai")
pytest.importorskip("torch", reason="the eager torch acoustic engine (the torch extra) is what batches on the CPU")

pytestmark = pytest.mark.serve

ZERO = {"noise_scale": 0.0, "noise_w": 0.0}
LONG = "It is easy to tell the depth of a well, and the juice of lemons makes fine punch. " * 3
#: two requests of one text (their windows share every shape) and one of another
TEXTS = [LONG, LONG, "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."]
ENGINE = ("--acoustic", "torch-fp32", "--workers", "1")


def concurrent(server: Server) -> list[np.ndarray]:
    """TEXTS as three concurrent PCM requests; their samples, in TEXTS' order."""
    client = server.client()
    out: list[np.ndarray | None] = [None] * len(TEXTS)
    errors: list[BaseException] = []
    start = threading.Barrier(len(TEXTS))

    def one(i: int) -> None:
        try:
            start.wait(10)
            reply = client.audio.speech.create(model="tts-1", voice="piper-joe", input=TEXTS[i],
                                               response_format="pcm", extra_body=ZERO)  # fmt: skip
            out[i] = np.frombuffer(reply.content, dtype="<i2")
        except BaseException as err:  # noqa: BLE001 - raised on the test's thread
            errors.append(err)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(TEXTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    return [a for a in out if a is not None]


def pcm(server: Server, text: str) -> np.ndarray:
    reply = server.client().audio.speech.create(model="tts-1", voice="piper-joe", input=text, response_format="pcm",
                                                extra_body=ZERO)  # fmt: skip
    return np.frombuffer(reply.content, dtype="<i2")


def test_batched_server_gives_the_unbatched_servers_samples(tmp_path):
    batched = Server(*ENGINE, "--max-batch", "2", wyoming=False)
    try:
        got = concurrent(batched)
        metrics = batched.metrics()
        alone_on_batched = pcm(batched, TEXTS[2])  # one request: nothing to batch with
    finally:
        batched.kill()
    assert metrics["tts_window_batches"] >= 1, metrics  # windows of the two LONG requests did share calls
    assert metrics["tts_batched_windows"] >= 2 * metrics["tts_window_batches"]
    unbatched = Server(*ENGINE, "--max-batch", "1", wyoming=False)
    try:
        want = concurrent(unbatched)
        assert unbatched.metrics()["tts_window_batches"] == 0
    finally:
        unbatched.kill()
    assert len(got) == len(want) == len(TEXTS)
    for a, b in zip(got, want, strict=True):
        # A batched fp32 window is within float rounding of the same window alone (1e-5:
        # tests/core/acoustic/test_engine.py), one int16 step. Under load a stream that fell behind
        # real time takes the opening schedule for its next sentence (docs/serve.md), another
        # window set, exact within 1e-4 (voices/piper/stages.py): 4 steps bound both.
        diff = int(np.abs(a.astype(np.int32) - b).max()) if a.shape == b.shape else None
        assert diff is not None and diff <= 4, (a.shape, b.shape, diff)
    out = tmp_path / "synth.wav"
    r = run_cli("synth", TEXTS[2], "--noise-scale", "0", "--noise-w", "0", *ENGINE[:2], "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr.decode()
    with wave.open(str(out)) as w:
        assert np.array_equal(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), alone_on_batched)


def test_max_batch_below_1_is_refused_before_listening():
    r = run_cli("serve", "--max-batch", "0", timeout=60)
    assert r.returncode == 2 and b"--max-batch 0" in r.stderr and b"Traceback" not in r.stderr
