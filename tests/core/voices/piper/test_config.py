"""A Piper voice config is checked in one place (PiperConfig.problem): a broken one is one line
and exit 3 through the real CLI, never a traceback."""

from __future__ import annotations

import json

import pytest

from tests.utils import run_cli
from tts_accel.core.errors import VoiceError
from tts_accel.core.voices.piper.config import PiperConfig
from tts_accel.core.voices.registry import resolve_voice


def _broken(config: dict, case: str) -> dict:
    config = json.loads(json.dumps(config))
    if case.startswith("rate="):
        value = case.removeprefix("rate=")
        config["audio"]["sample_rate"] = float(value) if "e" in value else int(value)
    elif case == "no-pad":
        del config["phoneme_id_map"]["_"]
    elif case == "bad-ids":
        config["phoneme_id_map"]["a"] = "x"
    elif case == "nan-noise":
        config.setdefault("inference", {})["noise_scale"] = float("nan")
    return config


CASES = ["rate=0", "rate=-5", "rate=1e12", "no-pad", "bad-ids", "nan-noise"]


@pytest.fixture(scope="module")
def joe_config(piper_voice) -> dict:
    return json.loads(piper_voice.config_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES)
def test_a_broken_config_is_a_voice_error(joe_config, case):
    with pytest.raises(VoiceError, match="fix the file or reinstall the voice"):
        PiperConfig.from_dict(_broken(joe_config, case))


def test_the_real_config_passes(joe_config):
    assert PiperConfig.from_dict(joe_config).problem() is None


@pytest.mark.parametrize("case", ["rate=0", "rate=1e12", "no-pad"])
def test_the_cli_reports_a_broken_config_in_one_line_exit_3(tmp_path, joe_config, case):
    model = tmp_path / "v.onnx"
    model.symlink_to(resolve_voice("piper-joe").model_path)
    (tmp_path / "v.onnx.json").write_text(json.dumps(_broken(joe_config, case)))
    done = run_cli("synth", "Hi.", "--voice", str(model), "-o", str(tmp_path / "o.wav"), timeout=120)
    err = done.stderr.decode()
    assert done.returncode == 3, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "v.onnx.json" in err
    assert not (tmp_path / "o.wav").exists()
