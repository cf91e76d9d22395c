from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.hardware.fake_trees import arm_big_little, epyc_vm, intel_hybrid
from tts_accel.core.errors import InputError
from tts_accel.core.files import toml as toml_io
from tts_accel.core.hardware.gpu import GPUInfo
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.plan import profiles as store
from tts_accel.core.plan.profiles import Profile

PRESETS = {"generic-cpu", "intel-hybrid", "arm-big-little", "nvidia-ampere", "nvidia-hopper", "nvidia-blackwell"}


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg"


def _hw(tmp_path, build=epyc_vm, gpu: GPUInfo | None = None) -> HardwareProfile:
    hw = HardwareProfile.detect(build(tmp_path / build.__name__), gpus=False)
    return dataclasses.replace(hw, gpus=(gpu,) if gpu else ())


def test_all_presets_load_and_say_why():
    presets = store.load_presets()
    assert {p.name for p in presets} == PRESETS
    for profile in presets:
        assert profile.description and profile.plan
    from importlib.resources import files

    for entry in files("tts_accel.profiles").iterdir():
        if entry.name.endswith(".toml"):
            assert entry.read_text().count("\n#") >= 2, f"{entry.name} should explain its values in comments"


@pytest.mark.parametrize(("build", "gpu", "torch", "expected"), [
    (epyc_vm, None, True, "generic-cpu"),
    (intel_hybrid, None, False, "intel-hybrid"),
    (arm_big_little, None, False, "arm-big-little"),
    (epyc_vm, GPUInfo("NVIDIA A10", "8.6", 22731), True, "nvidia-ampere"),
    (epyc_vm, GPUInfo("NVIDIA L4", "8.9", 22731), True, "nvidia-ampere"),
    (intel_hybrid, GPUInfo("NVIDIA H100", "9.0", 81559), True, "nvidia-hopper"),
    (epyc_vm, GPUInfo("NVIDIA B200", "10.0", 183359), True, "nvidia-blackwell"),
    (intel_hybrid, GPUInfo("NVIDIA H100", "9.0", 81559), False, "intel-hybrid"),  # no torch: CPU preset
    (epyc_vm, GPUInfo("Tesla T4", "7.5", 15360), True, "generic-cpu"),  # no preset for Turing
])  # fmt: skip
def test_pick_preset(tmp_path, build, gpu, torch, expected):
    assert store.pick_preset(_hw(tmp_path, build, gpu), torch_available=torch).name == expected


def test_tuned_profile_round_trip(tmp_path, config_home):
    hw = _hw(tmp_path)
    assert store.load_tuned(hw) is None
    tuned = Profile(
        name="", description="measured by tts tune",
        plan={"mode": "parallel", "workers": 4, "intra_op_threads": 1, "affinity": (0, 1)},
        measured={"rtf": 0.039, "wall_s": 1.28, "x_real_time": 25.8},
    )  # fmt: skip
    path = store.save_tuned(tuned, hw)
    assert path == config_home / "tts-accel" / "profiles" / f"{hw.fingerprint()}.toml"
    loaded = store.load_tuned(hw)
    assert loaded is not None
    assert loaded.kind == "tuned" and loaded.name == f"tuned-{hw.fingerprint()}"
    assert loaded.plan == {"mode": "parallel", "workers": 4, "intra_op_threads": 1, "affinity": [0, 1]}
    assert loaded.measured == tuned.measured
    assert loaded.fingerprint == hw.fingerprint() and loaded.created.startswith("20")
    assert {"python", "tts-accel", "onnxruntime"} <= set(loaded.versions)
    assert "AMD EPYC" in loaded.hardware
    # another machine does not see it
    assert store.load_tuned(_hw(tmp_path, intel_hybrid)) is None


def test_list_show_delete(tmp_path, config_home):
    hw = _hw(tmp_path)
    store.save_tuned(Profile(name="", plan={"mode": "sequential"}), hw)
    names = [p.name for p in store.list_profiles()]
    assert set(names) == PRESETS | {f"tuned-{hw.fingerprint()}"}
    assert Profile.from_name("intel-hybrid").match == {"core_layout": "hybrid"}
    assert Profile.from_name(hw.fingerprint()).kind == "tuned"
    with pytest.raises(InputError, match="shipped preset"):
        store.delete("generic-cpu")
    assert store.delete(f"tuned-{hw.fingerprint()}").suffix == ".toml"
    assert store.load_tuned(hw) is None
    with pytest.raises(InputError, match="no tuned profile named"):
        store.delete(f"tuned-{hw.fingerprint()}")
    with pytest.raises(InputError, match="no profile named 'nope'"):
        Profile.from_name("nope")


def test_corrupt_tuned_profile_names_the_fix_and_can_be_deleted(tmp_path, config_home):
    hw = _hw(tmp_path)
    path = store.tuned_path(hw)
    path.parent.mkdir(parents=True)
    path.write_text("mode = [unclosed\n")
    with pytest.raises(InputError, match="not valid TOML.*delete it"):
        store.load_tuned(hw)
    assert store.delete(hw.fingerprint()) == path and not path.exists()


def test_profile_with_unknown_plan_field_is_refused():
    with pytest.raises(InputError, match="plan fields"):
        Profile.from_toml('name = "x"\n[plan]\nworkerz = 2\n', source="x.toml", kind="preset")
    with pytest.raises(InputError, match="unknown keys"):
        Profile.from_toml('nam = "x"\n', source="x.toml", kind="preset")


def test_toml_writer_round_trips_through_tomllib():
    data = {
        "name": 'quote " and \\ backslash, ünïcode\nnewline\x7f\x00\t', "n": 3, "f": 0.1, "yes": True,
        "plan": {"affinity": [0, 2, 4], "mode": "parallel", "with space": "v"},
        "measured": {"rtf": 1e-9, "inf": float("inf")},
    }  # fmt: skip
    assert toml_io.loads(toml_io.dumps(data, header="two\nlines")) == data
    nested = {"acoustic": {"isa": "amx", "costs": {"ort-fp32": {"fixed_s": 0.3}, "torch-bf16": {"x": 1}}}}
    assert toml_io.loads(toml_io.dumps(nested)) == nested  # [acoustic.costs.torch-bf16]
    with pytest.raises(TypeError):
        toml_io.dumps({"t": {"x": {1, 2}}})


_scalars = st.one_of(
    st.text(max_size=20), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(),
    st.floats(allow_nan=False),
)  # fmt: skip
_keys = st.text(min_size=1, max_size=12)


@given(st.dictionaries(_keys, st.one_of(_scalars, st.lists(st.integers(0, 512), max_size=5)), max_size=6))
def test_toml_writer_round_trips_any_flat_table(table):
    data = {"plan": table}
    assert toml_io.loads(toml_io.dumps(data)) == data


def test_tuned_profiles_are_keyed_by_machine_and_voice_family(tmp_path, config_home):
    hw = _hw(tmp_path)
    kokoro = store.save_tuned(Profile(name="", plan={"mode": "parallel", "workers": 2}), hw, family="kokoro")
    assert kokoro == config_home / "tts-accel" / "profiles" / f"{hw.fingerprint()}.kokoro.toml"
    assert store.load_tuned(hw) is None  # the Piper voice does not get a plan tuned on Kokoro
    loaded = store.load_tuned(hw, "kokoro")
    assert loaded is not None and loaded.family == "kokoro" and loaded.name == f"tuned-{hw.fingerprint()}-kokoro"
    piper = store.save_tuned(Profile(name="", plan={"mode": "sequential"}), hw)
    assert piper.name == f"{hw.fingerprint()}.toml" and store.load_tuned(hw).family == "piper"  # type: ignore[union-attr]


def test_a_profile_written_before_families_applies_to_the_default_family(tmp_path, config_home):
    hw = _hw(tmp_path)
    path = store.tuned_path(hw)
    path.parent.mkdir(parents=True)
    path.write_text('name = "old"\nkind = "tuned"\n[plan]\nmode = "parallel"\nworkers = 2\n', encoding="utf-8")
    assert store.load_tuned(hw).plan == {"mode": "parallel", "workers": 2}  # type: ignore[union-attr]
    assert store.load_tuned(hw, "kokoro") is None
    path.write_text('name = "moved"\nkind = "tuned"\nfamily = "kokoro"\n[plan]\nmode = "parallel"\n', encoding="utf-8")
    assert store.load_tuned(hw) is None  # a Kokoro profile renamed by hand is not applied to Piper


def test_a_tuned_profile_that_cannot_be_saved_is_an_output_error_naming_it(tmp_path, monkeypatch):
    from tts_accel.core.errors import OutputError

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker / "cfg"))  # a path under a file
    with pytest.raises(OutputError, match=r"cannot save the tuned profile to .*a-file/cfg") as info:
        store.save_tuned(Profile(name="", plan={"mode": "sequential"}), _hw(tmp_path))
    assert info.value.exit_code == 4
