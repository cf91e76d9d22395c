"""`tts serve` through the real thing: a server subprocess on loopback with the real default voice,
the openai SDK and the wyoming package as clients."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import wave

import numpy as np
import pytest

from tests.utils import Server, cli_env, free_port, run_cli

pytest.importorskip("fastapi")
pytest.importorskip("wyoming")
httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")

pytestmark = pytest.mark.serve

KEY = "test-key-123"
TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
LONG = " ".join(["It is easy to tell the depth of a well, and the juice of lemons makes fine punch."] * 6)
#: about a minute of audio (2.4 MB of PCM): more than loopback's socket buffers hold for a client that stalls
LONGER = " ".join([LONG, LONG])
ZERO = {"noise_scale": 0.0, "noise_w": 0.0}
MAX_QUEUE = 3


@pytest.fixture(scope="module")
def server():
    srv = Server("--max-queue", str(MAX_QUEUE), "--max-input-chars", "1200", "--acoustic", "ort-fp32", key=KEY)
    try:
        yield srv
    finally:
        srv.kill()


@pytest.fixture(scope="module")
def synth_pcm(tmp_path_factory) -> np.ndarray:
    """`tts synth` of TEXT at zero noise, decoded."""
    out = tmp_path_factory.mktemp("synth") / "ref.wav"
    r = run_cli("synth", TEXT, "--noise-scale", "0", "--noise-w", "0", "--acoustic", "ort-fp32", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr.decode()
    with wave.open(str(out)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def wav_pcm(data: bytes) -> np.ndarray:
    assert data[:4] == b"RIFF" and data[36:40] == b"data"
    return np.frombuffer(data[44:], dtype="<i2")  # a streamed header says "length unknown": read to the end


def count(metrics: dict[str, float], outcome: str, protocol: str = "http") -> float:
    return metrics.get(f'tts_requests_total{{outcome="{outcome}",protocol="{protocol}"}}', 0.0)


# --- the openai SDK -----------------------------------------------------------------------------


def test_openai_sdk_wav_and_pcm_equal_tts_synth_at_zero_noise(server, synth_pcm):
    client = server.client()
    wav = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="wav", extra_body=ZERO)
    assert np.array_equal(wav_pcm(wav.content), synth_pcm)
    pcm = client.audio.speech.create(model="tts-1-hd", voice="piper-joe", input=TEXT, response_format="pcm",
                                     extra_body=ZERO)  # fmt: skip
    assert np.array_equal(np.frombuffer(pcm.content, dtype="<i2"), synth_pcm)


def test_openai_sdk_streamed_bytes_are_the_same_samples(server, synth_pcm):
    client = server.client()
    parts = []
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="nova", input=TEXT, response_format="pcm", extra_body=ZERO
    ) as response:
        assert response.headers["x-sample-rate"] == "22050"
        for part in response.iter_bytes(4096):
            parts.append(part)
    assert np.array_equal(np.frombuffer(b"".join(parts), dtype="<i2"), synth_pcm)


def test_sse_deltas_carry_the_audio_then_done_with_word_times(server, synth_pcm):
    body = {"input": TEXT, "response_format": "pcm", "stream_format": "sse", "timestamps": True, **ZERO}
    events = []
    with httpx.stream("POST", server.url + "/v1/audio/speech", json=body, headers=server.headers, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["type"] == "speech.audio.done"
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 2  # window by window, not one blob
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert np.array_equal(np.frombuffer(audio, dtype="<i2"), synth_pcm)
    words = [w for e in deltas for w in e.get("words", [])]
    assert [w["word"] for w in words][:3] == ["The", "birch", "canoe"]
    assert all(a["start"] <= b["start"] for a, b in zip(words, words[1:], strict=False))
    assert words[-1]["end"] <= len(synth_pcm) / 22050


def test_mp3_opus_flac_are_encoded(server):
    for fmt, magic in (
        ("mp3", (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
        ("opus", (b"OggS",)),
        ("flac", (b"fLaC",)),
    ):
        r = server.post({"input": "Hello.", "response_format": fmt})
        assert r.status_code == 200, r.text
        assert r.content.startswith(magic), fmt


def test_models_and_voices_list(server):
    models = server.client().models.list()
    assert {"tts-accel", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= {m.id for m in models.data}
    voices = httpx.get(server.url + "/v1/audio/voices", headers=server.headers).json()
    joe = next(v for v in voices["voices"] if v["id"] == "piper-joe")
    assert joe["sample_rate"] == 22050 and joe["language"] == "en-US" and joe["loaded"]
    assert voices["aliases"]["alloy"] == "piper-joe"


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"input": "Hi.", "response_format": "aac"}, 400, "response_format"),
        ({"input": "Hi.", "voice": "/usr/share/voice.onnx"}, 400, "voice"),
        ({"input": "Hi.", "voice": "nobody"}, 400, "voice"),
        ({"input": "Hi.", "speed": 5}, 400, "speed"),
        ({"input": "Hi.", "speed": "fast"}, 400, "speed"),
        ({"input": "Hi.", "model": "gpt-9"}, 400, "model"),
        ({"input": "Hi.", "colour": "red"}, 400, "colour"),
        ({"voice": "alloy"}, 400, "input"),
        ({"input": "x" * 1201}, 413, "input"),
        ({"input": "...", "response_format": "wav"}, 400, None),  # nothing to pronounce
    ],
)
def test_bad_requests_get_openai_errors(server, body, status, param):
    r = server.post(body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["message"]
    if status == 413:
        assert "1200" in error["message"]


def test_aac_is_refused_with_the_formats_listed(server):
    message = server.post({"input": "Hi.", "response_format": "aac"}).json()["error"]["message"]
    assert all(f in message for f in ("mp3", "opus", "flac", "wav", "pcm"))


def test_invalid_json_and_a_huge_body(server):
    r = httpx.post(server.url + "/v1/audio/speech", content=b"{not json", headers=server.headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = httpx.post(server.url + "/v1/audio/speech", content=b"x" * 40_000, headers=server.headers)
    assert r.status_code == 413


def test_the_api_key_is_required_except_on_health(server):
    assert httpx.get(server.url + "/health").status_code == 200
    assert httpx.get(server.url + "/v1/models").status_code == 401
    r = httpx.post(server.url + "/v1/audio/speech", json={"input": "Hi."}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="nope", max_retries=0).audio.speech.create(
            model="tts-1", voice="alloy", input="Hi."
        )


def test_fuzzed_bodies_never_get_a_5xx(server):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    values = st.one_of(
        st.none(), st.booleans(), st.integers(-5, 2**40), st.floats(allow_nan=True), st.text(max_size=12),
        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.sampled_from(["wav", "pcm", "mp3", "sse", "audio", "alloy", "piper-joe", "tts-1", "kokoro-jf_alpha", "ja"]),
    )  # fmt: skip
    keys = st.sampled_from(
        ["model", "input", "voice", "response_format", "speed", "stream_format", "noise_scale", "noise_w",
         "sentence_silence", "seed", "lang", "timestamps", "instructions", "x"]
    )  # fmt: skip
    bodies = st.one_of(st.dictionaries(keys, values, max_size=6), values)

    with httpx.Client(headers=server.headers, timeout=60) as http:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(bodies)
        def check(body):
            r = http.post(server.url + "/v1/audio/speech", content=json.dumps(body, allow_nan=True))
            assert r.status_code < 500, (body, r.text)

        check()


# --- capacity -----------------------------------------------------------------------------------


def test_a_full_queue_gets_429_and_disconnects_give_the_capacity_back(server):
    body = {"input": LONGER, "response_format": "pcm"}
    release = threading.Event()
    started = threading.Barrier(MAX_QUEUE + 1)

    def stalled_client():  # reads one chunk, then stops reading: its request stays in flight
        with httpx.stream("POST", server.url + "/v1/audio/speech", json=body, headers=server.headers, timeout=60) as r:
            assert r.status_code == 200
            chunks = r.iter_raw(1024)  # kept: a dropped iterator would close the response
            next(chunks)
            started.wait(60)
            release.wait(60)
        # leaving the block closes the connection mid-stream

    threads = [threading.Thread(target=stalled_client) for _ in range(MAX_QUEUE)]
    for t in threads:
        t.start()
    try:
        started.wait(60)
        assert server.metrics()["tts_queue_depth"] == MAX_QUEUE
        busy = server.post({"input": "Hi."})
        assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
        assert busy.json()["error"]["code"] == "queue_full"
    finally:
        release.set()
        for t in threads:
            t.join(60)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.metrics()["tts_queue_depth"] > 0:
        time.sleep(0.1)
    after = server.metrics()
    assert after["tts_queue_depth"] == 0  # their pending windows were dropped, not computed
    assert count(after, "cancelled") >= MAX_QUEUE and count(after, "busy") >= 1  # the 429 counted
    assert server.post({"input": "Hi.", "response_format": "wav"}).status_code == 200


# --- wyoming ------------------------------------------------------------------------------------


def wyoming_exchange(port: int, events) -> list:
    from wyoming.client import AsyncTcpClient

    async def talk():
        got = []
        async with AsyncTcpClient("127.0.0.1", port) as client:
            for event in events:
                await client.write_event(event.event())
            while True:
                event = await asyncio.wait_for(client.read_event(), 60)
                if event is None:
                    break
                got.append(event)
                if event.type in ("audio-stop", "synthesize-stopped", "error", "info") and (
                    event.type != "audio-stop" or events[0].event().type == "synthesize"
                ):
                    break
        return got

    return asyncio.run(talk())


def test_wyoming_describe_lists_every_installed_voice(server):
    from wyoming.info import Describe, Info

    from tts_accel.core.serve.engine import installed_voices

    (event,) = wyoming_exchange(server.wyoming_port, [Describe()])
    info = Info.from_event(event)
    (program,) = info.tts
    assert program.supports_synthesize_streaming
    assert {v.name for v in program.voices} == {e.name for e in installed_voices()}


def test_wyoming_synthesize_streams_windows_with_the_same_samples(server, synth_pcm):
    from wyoming.audio import AudioChunk, AudioStart
    from wyoming.tts import Synthesize, SynthesizeVoice

    events = wyoming_exchange(server.wyoming_port, [Synthesize(TEXT, voice=SynthesizeVoice(name="piper-joe"))])
    assert [e.type for e in events][0] == "audio-start" and events[-1].type == "audio-stop"
    assert AudioStart.from_event(events[0]).rate == 22050
    chunks = [AudioChunk.from_event(e) for e in events if e.type == "audio-chunk"]
    assert len(chunks) >= 3  # per window, not per sentence (two sentences here)
    audio = np.frombuffer(b"".join(c.audio for c in chunks), dtype="<i2")
    # the voice's default noise (Wyoming has no noise fields): about the same length, not the same samples
    assert abs(len(audio) - len(synth_pcm)) < 0.15 * len(synth_pcm)


def test_wyoming_streaming_form_speaks_sentences_as_text_arrives(server):
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

    events = [SynthesizeStart(), SynthesizeChunk("The birch canoe slid "), SynthesizeChunk("on the planks. Glue the "),
              SynthesizeChunk("sheet."), Synthesize("The birch canoe slid on the planks. Glue the sheet."),
              SynthesizeStop()]  # fmt: skip
    got = wyoming_exchange(server.wyoming_port, events)
    types = [e.type for e in got]
    assert types[0] == "audio-start" and types[-2:] == ["audio-stop", "synthesize-stopped"]
    assert types.count("audio-start") == 1 and types.count("audio-chunk") >= 2
    # the legacy synthesize inside the pair was not spoken again: about 2 sentences of audio, not 4
    samples = sum(len(e.payload or b"") for e in got if e.type == "audio-chunk") // 2
    assert 1.5 < samples / 22050 < 6


def test_wyoming_errors_are_events(server):
    from wyoming.tts import Synthesize, SynthesizeVoice

    (event,) = wyoming_exchange(server.wyoming_port, [Synthesize("Hi.", voice=SynthesizeVoice(name="/etc/passwd"))])
    assert event.type == "error" and "unknown voice" in event.data["text"]


# --- metrics (after the tests above: the module's server has counted them) ----------------------


def test_metrics_count_what_happened(server):
    """Self-contained: the module's other tests may run on another test worker's server."""
    from wyoming.tts import Synthesize

    ttfa = 'tts_time_to_first_audio_seconds_count{protocol="http"}'
    before = server.metrics()
    assert server.post({"input": "Hi there.", "response_format": "wav"}).status_code == 200
    assert server.post({"input": "Hi.", "speed": 99}).status_code == 400
    assert wyoming_exchange(server.wyoming_port, [Synthesize("Hi.")])[-1].type == "audio-stop"
    after = server.metrics()
    assert count(after, "ok") == count(before, "ok") + 1
    assert count(after, "client_error") == count(before, "client_error") + 1
    assert count(after, "ok", "wyoming") == count(before, "ok", "wyoming") + 1
    assert after["tts_audio_seconds_total"] > before.get("tts_audio_seconds_total", 0.0)
    assert after[ttfa] == before.get(ttfa, 0.0) + 1
    assert after["tts_requests_in_flight"] == 0
    assert after["tts_unit_cpu_seconds_total"] > before.get("tts_unit_cpu_seconds_total", 0.0)
    assert "process_cpu_seconds_total" in after


# --- its own servers ----------------------------------------------------------------------------


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0():
    srv = Server(key=None, wyoming=False)
    try:
        events: list[dict] = []
        first = threading.Event()

        def client():
            body = {"input": LONG, "response_format": "pcm", "stream_format": "sse"}
            with httpx.stream("POST", srv.url + "/v1/audio/speech", json=body, timeout=60) as r:
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        first.set()

        thread = threading.Thread(target=client)
        thread.start()
        assert first.wait(30)
        srv.proc.send_signal(signal.SIGTERM)
        thread.join(60)
        assert srv.proc.wait(30) == 0
        assert events[-1]["type"] == "speech.audio.done"  # the whole text, not cut at the signal
        assert events[-1]["audio_seconds"] > 20
        with pytest.raises(httpx.HTTPError):
            httpx.get(srv.url + "/health", timeout=2)  # no longer listening
    finally:
        srv.kill()


def test_cli_refusals_before_listening():
    r = run_cli("serve", "--wyoming-uri", "tcp://0.0.0.0:10200", "--port", str(free_port()), timeout=60)
    assert r.returncode == 2 and b"--wyoming-allow-remote" in r.stderr and b"Traceback" not in r.stderr
    r = run_cli("serve", "--voice", "./voice.onnx", "--port", str(free_port()), timeout=60)
    assert r.returncode == 3 and b"unknown voice" in r.stderr and b"Traceback" not in r.stderr
    r = run_cli("serve", "--voice-map", "alloy", timeout=60)
    assert r.returncode == 2 and b"NAME=VOICE" in r.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = run_cli("serve", "--port", str(taken.getsockname()[1]), timeout=60)
    assert r.returncode == 2 and b"choose another --port" in r.stderr and b"Traceback" not in r.stderr


def test_without_the_serve_extra_it_prints_the_install_line():
    code = (
        "import sys; sys.modules['fastapi'] = None; from tts_accel.cli.app import main; "
        "sys.argv = ['tts', 'serve']; main()"
    )
    r = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, timeout=60)
    assert r.returncode == 2
    assert b"pip install 'tts-accel[serve]'" in r.stderr and b"Traceback" not in r.stderr


def test_a_request_past_request_timeout_gets_its_error_and_the_server_stays_healthy():
    """HTTP: 504 ``timeout`` before any audio, or a stream that ends short (no ``speech.audio.done``)
    after it (docs/serve.md); Wyoming: an ``error`` event with code ``timeout``. Then normal answers."""
    from wyoming.tts import Synthesize

    srv = Server("--request-timeout", "0.5", "--acoustic", "ort-fp32")
    try:
        before = srv.metrics()
        body = {"input": LONGER, "response_format": "pcm", "stream_format": "sse"}
        with httpx.stream("POST", srv.url + "/v1/audio/speech", json=body, timeout=60) as r:
            if r.status_code == 200:
                events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
                assert events and all(e["type"] == "speech.audio.delta" for e in events)  # cut short
            else:
                r.read()
                assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        got = wyoming_exchange(srv.wyoming_port, [Synthesize(LONGER)])
        assert got[-1].type == "error" and got[-1].data["code"] == "timeout"
        assert "--request-timeout" in got[-1].data["text"]
        after = srv.metrics()
        assert count(after, "timeout") == count(before, "timeout") + 1
        assert count(after, "timeout", "wyoming") == count(before, "timeout", "wyoming") + 1
        assert after["tts_requests_in_flight"] == 0
        assert httpx.get(srv.url + "/health", timeout=5).status_code == 200
        ok = srv.post({"input": "Hi.", "response_format": "wav"})
        assert ok.status_code == 200 and ok.content[:4] == b"RIFF"
        (*_, stop) = wyoming_exchange(srv.wyoming_port, [Synthesize("Hi.")])
        assert stop.type == "audio-stop"
    finally:
        srv.kill()
