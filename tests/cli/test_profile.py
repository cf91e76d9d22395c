from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.core.hardware.fake_trees import epyc_vm, intel_hybrid
from tts_accel.cli.profile import profile_app
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.plan import profiles as store
from tts_accel.core.plan.profiles import Profile

PRESETS = {"generic-cpu", "intel-hybrid", "arm-big-little", "nvidia-ampere", "nvidia-hopper", "nvidia-blackwell"}

app = typer.Typer()


@app.callback()
def _root() -> None:
    """A stand-in for the `tts` app."""


app.add_typer(profile_app, name="profile")
runner = CliRunner()


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg"


@pytest.fixture
def hybrid_root(tmp_path):
    return intel_hybrid(tmp_path / "hybrid")


def test_profile_json_describes_the_fake_machine(hybrid_root):
    result = runner.invoke(app, ["profile", "--root", str(hybrid_root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cpu_model"].endswith("i5-13600K")
    assert data["performance_cpus"] == list(range(12)) and data["efficiency_cpus"] == list(range(12, 20))
    assert data["profile"] == "intel-hybrid"
    assert data["fingerprint"] == HardwareProfile.detect(hybrid_root, gpus=False).fingerprint()


def test_profile_table_on_the_real_machine():
    result = runner.invoke(app, ["profile"])
    assert result.exit_code == 0, result.output
    hw = HardwareProfile.detect("/", gpus=False)
    for text in ("Hardware profile", "performance CPUs", "effective CPUs", hw.fingerprint()):
        assert text in result.stdout


def test_help_with_short_flag():
    result = runner.invoke(app, ["profile", "-h"])
    assert result.exit_code == 0
    assert "list" in result.stdout and "delete" in result.stdout


def test_list_marks_the_profile_that_applies(hybrid_root):
    result = runner.invoke(app, ["profile", "--root", str(hybrid_root), "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} == PRESETS
    assert [r["name"] for r in rows if r["applies"]] == ["intel-hybrid"]


def test_a_tuned_profile_applies_before_the_preset_and_can_be_deleted(tmp_path, hybrid_root):
    hw = HardwareProfile.detect(hybrid_root, gpus=False)
    store.save_tuned(Profile(name="", plan={"mode": "parallel", "workers": 5}, measured={"rtf": 0.03}), hw)
    name = f"tuned-{hw.fingerprint()}"

    listed = runner.invoke(app, ["profile", "--root", str(hybrid_root), "list"])
    assert listed.exit_code == 0, listed.output
    (line,) = [ln for ln in listed.stdout.splitlines() if name in ln]
    assert "*" in line and "tuned" in line

    shown = runner.invoke(app, ["profile", "show", name, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["plan"] == {"mode": "parallel", "workers": 5}

    deleted = runner.invoke(app, ["profile", "delete", name])
    assert deleted.exit_code == 0 and "deleted" in deleted.stdout
    assert store.load_tuned(hw) is None


def test_show_preset_table():
    result = runner.invoke(app, ["profile", "show", "nvidia-hopper"])
    assert result.exit_code == 0, result.output
    assert "Hopper" in result.stdout and "hybrid" in result.stdout


@pytest.mark.parametrize("args", [["show", "nope"], ["delete", "nope"], ["delete", "generic-cpu"]])
def test_unknown_or_preset_names_fail_with_exit_code_2(args):
    result = runner.invoke(app, ["profile", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error:") and ("nope" in line or "preset" in line)


def test_broken_tuned_profile_still_shows_the_hardware(tmp_path):
    root = epyc_vm(tmp_path / "vm")
    path = store.tuned_path(HardwareProfile.detect(root, gpus=False))
    path.parent.mkdir(parents=True)
    path.write_text("[plan\n")
    result = runner.invoke(app, ["profile", "--root", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert "not valid TOML" in json.loads(result.stdout)["profile"]
    listed = runner.invoke(app, ["profile", "--root", str(root), "list"])
    assert listed.exit_code == 2 and "delete it" in listed.stderr


# --- a broken tuned profile: one line, exit 2, and the fix; deleting it by name works ------------


def _real(*args: str, config: Path):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from tests.utils import cli_env

    env = {**cli_env(), "XDG_CONFIG_HOME": str(config)}
    return subprocess.run([sys.executable, "-m", "tts_accel", *args], capture_output=True, env=env, timeout=120)


def test_a_tuned_profile_that_is_not_utf8_is_one_line_with_the_fix(tmp_path):
    from tts_accel.core.hardware.profile import this_machine

    config = tmp_path / "cfg"
    path = config / "tts-accel" / "profiles" / f"{this_machine().fingerprint()}.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'name = "x\xff\xfe"\n')
    for args in (["profile", "list"], ["synth", "Hi.", "-o", str(tmp_path / "o.wav")]):
        done = _real(*args, config=config)
        err = done.stderr.decode()
        assert done.returncode == 2, err
        assert len(err.strip().splitlines()) == 1 and "is not UTF-8" in err and "tts profile delete" in err
    assert _real("profile", "delete", path.stem, config=config).returncode == 0
    assert not path.exists()


def test_a_directory_named_like_a_profile_is_not_a_profile(tmp_path):
    from tts_accel.core.hardware.profile import this_machine

    config = tmp_path / "cfg"
    path = config / "tts-accel" / "profiles" / f"{this_machine().fingerprint()}.toml"
    path.mkdir(parents=True)
    done = _real("profile", "list", config=config)
    assert done.returncode == 0, done.stderr


def test_profile_reports_the_roofline_in_the_table_and_json(tmp_path):
    """Peaks from ISA, cores and clock (a fake Zen 4 VM at 2.6 GHz: 2 x 2.6 x 32 fp32, x 64 bf16)
    and the default voice's decoder FLOPs from its convolutions."""
    from tests.core.hardware.fake_trees import write_tree

    root = epyc_vm(tmp_path / "zen4")
    text = (root / "proc/cpuinfo").read_text().replace("flags", "cpu family\t: 25\ncpu MHz\t\t: 2600.000\nflags")
    write_tree(root, {"proc/cpuinfo": text})
    result = runner.invoke(app, ["profile", "--root", str(root), "--json"])
    assert result.exit_code == 0, result.output
    roof = json.loads(result.stdout)["roofline"]
    assert roof["peak"]["fp32_gflops"] == pytest.approx(166.4) and roof["peak"]["bf16_gflops"] == pytest.approx(332.8)
    assert roof["peak"]["clock_source"] == "/proc/cpuinfo cpu MHz"
    assert roof["decoder_gflop_per_audio_s"] == pytest.approx(3.9, rel=0.02) and roof["engines"] == []
    table = runner.invoke(app, ["profile", "--root", str(root)])
    assert table.exit_code == 0, table.output
    for text in ("peak fp32", "166 GFLOP/s", "peak bf16", "333 GFLOP/s", "GFLOP per second of audio",
                 "tts tune --acoustic-only"):  # fmt: skip
        assert text in table.stdout


def test_profile_shows_what_each_tuned_engine_achieved(tmp_path):
    """A tuned profile's decoder CPU seconds per second of audio become achieved GFLOP/s and a share
    of one core's peak at the engine's precision."""
    hw = HardwareProfile.detect("/", gpus=False)
    acoustic = {"quality": {"ort-fp32": {"decoder_per_audio_s": 0.078}, "torch-bf16": {"decoder_per_audio_s": 0.039}}}
    store.save_tuned(Profile(name="", kind="tuned", acoustic=acoustic), hw)
    result = runner.invoke(app, ["profile", "--json"])
    assert result.exit_code == 0, result.output
    engines = {e["engine"]: e for e in json.loads(result.stdout)["roofline"]["engines"]}
    gflop = json.loads(result.stdout)["roofline"]["decoder_gflop_per_audio_s"]
    assert engines["ort-fp32"]["gflops"] == pytest.approx(gflop / 0.078)
    assert engines["torch-bf16"]["gflops"] == pytest.approx(gflop / 0.039)
    assert engines["torch-bf16"]["precision"] == "bf16"
    table = runner.invoke(app, ["profile"])
    assert "achieved ort-fp32" in table.stdout and "achieved torch-bf16" in table.stdout
