"""Profile schema, shipped presets and the user's tuned profiles (one TOML file per machine
and voice family).

Presets ship in ``tts_accel/profiles/*.toml`` and describe a policy for a kind of machine
("parallel on the performance cores"); tuned profiles are written by ``tts tune`` under
``user_config_dir("tts-accel")/profiles/`` and hold measured numbers for one machine and one
voice family: ``<fingerprint>.toml`` for the default voice's family (Piper), so that a file
written before profiles were keyed by family keeps applying to the voice it was tuned on, and
``<fingerprint>.<family>.toml`` for any other family (``tts tune --voice kokoro-jf_alpha``).
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from tts_accel.core.errors import InputError, output_error
from tts_accel.core.files import toml as toml_io
from tts_accel.core.files.atomic import write_atomic
from tts_accel.core.hardware.gpu import torch_available as _torch_available
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.versions import versions

PRESETS_PACKAGE = "tts_accel.profiles"

#: Match criteria a preset may use; a preset matches when all of its criteria hold.
MATCH_KEYS = ("vendor", "core_layout", "isa", "gpu_arch", "gpu", "requires_torch")
_TOP_KEYS = {"name", "kind", "description", "fingerprint", "family", "created", "hardware", "match", "plan",
             "measured", "versions", "acoustic"}  # fmt: skip


#: The default voice's family: its tuned profile file has no family suffix, and a tuned profile
#: without a family key is taken as its (``voices.registry`` checks the default voice is of it).
DEFAULT_FAMILY = "piper"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    kind: str = "preset"  # preset | tuned
    match: dict[str, object] = field(default_factory=dict)
    #: ExecutionPlan fields; presets may use "performance-cores" (workers) and
    #: "performance" / "all" (affinity), resolved against the machine by resolve_plan
    plan: dict[str, object] = field(default_factory=dict)
    fingerprint: str = ""
    #: the voice family a tuned profile was measured on ("" in files written before the key existed)
    family: str = ""
    created: str = ""
    hardware: str = ""
    measured: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    #: `tts tune`'s acoustic-stage measurements: ``costs.<engine>`` (fixed_s, per_audio_s,
    #: compile_s) and ``quality.<engine>`` (snr_db, mcd16_db, pesq_wb, wer, same_voice, ...)
    acoustic: dict[str, object] = field(default_factory=dict)

    def acoustic_costs(self) -> dict[str, dict[str, object]]:
        table = self.acoustic.get("costs", {})
        return {k: v for k, v in table.items() if isinstance(v, dict)} if isinstance(table, dict) else {}

    def acoustic_same_voice(self) -> dict[str, bool]:
        table = self.acoustic.get("quality", {})
        if not isinstance(table, dict):
            return {}
        return {k: bool(v["same_voice"]) for k, v in table.items() if isinstance(v, dict) and "same_voice" in v}

    @classmethod
    def from_name(cls, name: str) -> Profile:
        """A shipped preset or a tuned profile, by name (a tuned one also by fingerprint)."""
        for profile in list_profiles():
            if name in (profile.name, profile.fingerprint):
                return profile
        known = ", ".join(p.name for p in list_profiles())
        raise InputError(f"no profile named {name!r}: use one of {known} (see `tts profile list`).")

    @classmethod
    def from_toml(cls, text: str, *, source: str, kind: str) -> Profile:
        try:
            data = toml_io.loads(text)
        except toml_io.TOMLDecodeError as err:
            raise InputError(f"{source} is not valid TOML ({err}): fix it or delete it.") from None
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise InputError(f"{source}: unknown keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}.")
        tables = {k: data.get(k, {}) for k in ("match", "plan", "measured", "versions", "acoustic")}
        if not all(isinstance(t, dict) for t in tables.values()):
            raise InputError(f"{source}: match, plan, measured, versions and acoustic must be tables.")
        bad_match = set(tables["match"]) - set(MATCH_KEYS)
        bad_plan = set(tables["plan"]) - set(ExecutionPlan.field_names())
        if bad_match or bad_plan:
            raise InputError(
                f"{source}: unknown match keys {sorted(bad_match)} or plan fields {sorted(bad_plan)}; "
                f"plan fields are {', '.join(ExecutionPlan.field_names())}."
            )
        try:
            measured = {k: float(v) for k, v in tables["measured"].items()}
        except (TypeError, ValueError):
            raise InputError(f"{source}: [measured] holds numbers only.") from None
        name = str(data.get("name") or Path(source).stem)
        return cls(
            name=name, description=str(data.get("description", "")), kind=str(data.get("kind", kind)),
            match=tables["match"], plan=tables["plan"], fingerprint=str(data.get("fingerprint", "")),
            family=str(data.get("family", "")), created=str(data.get("created", "")),
            hardware=str(data.get("hardware", "")),
            measured=measured, versions={k: str(v) for k, v in tables["versions"].items()},
            acoustic=tables["acoustic"],
        )  # fmt: skip

    def to_toml(self) -> str:
        data: dict[str, object] = {
            "name": self.name, "kind": self.kind, "description": self.description,
            "fingerprint": self.fingerprint or None, "family": self.family or None, "created": self.created or None,
            "hardware": self.hardware or None,
            "match": self.match, "plan": self.plan, "measured": self.measured, "versions": self.versions,
            "acoustic": self.acoustic,
        }  # fmt: skip
        header = "Written by tts-accel; `tts profile delete NAME` removes it, `tts tune` rewrites it."
        return toml_io.dumps({k: v for k, v in data.items() if v not in (None, {})}, header=header)

    def matches(self, hw: HardwareProfile, *, torch_available: bool) -> bool:
        """Whether every match criterion holds on ``hw``."""
        checks = {
            "vendor": lambda want: hw.cpu_vendor in _as_list(want),
            "core_layout": lambda want: hw.core_layout in _as_list(want),
            "isa": lambda want: all(hw.has(str(flag)) for flag in _as_list(want)),
            "gpu_arch": lambda want: any(g.architecture in _as_list(want) for g in hw.gpus),
            "gpu": lambda want: bool(hw.gpus) == bool(want),
            "requires_torch": lambda want: torch_available or not want,
        }
        return all(checks[key](want) for key, want in self.match.items())


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def load_presets() -> list[Profile]:
    """The presets shipped in this package, sorted by name."""
    found = []
    for entry in importlib.resources.files(PRESETS_PACKAGE).iterdir():
        if entry.name.endswith(".toml"):
            found.append(Profile.from_toml(entry.read_text(encoding="utf-8"), source=entry.name, kind="preset"))
    return sorted(found, key=lambda p: p.name)


def pick_preset(
    hw: HardwareProfile, presets: list[Profile] | None = None, *, torch_available: bool | None = None
) -> Profile | None:
    """The matching preset with the most criteria (generic-cpu matches everything, with none)."""
    has_torch = _torch_available() if torch_available is None else torch_available
    pool = presets if presets is not None else load_presets()
    candidates = [p for p in pool if p.matches(hw, torch_available=has_torch)]
    return max(candidates, key=lambda p: (len(p.match), p.name), default=None)


def profiles_dir() -> Path:
    """Where tuned profiles live; honours XDG_CONFIG_HOME on Linux (through platformdirs)."""
    return Path(platformdirs.user_config_dir("tts-accel")) / "profiles"


def tuned_path(hw: HardwareProfile, family: str = DEFAULT_FAMILY) -> Path:
    """This machine's tuned profile for voices of ``family``."""
    suffix = "" if family == DEFAULT_FAMILY else f".{family}"
    return profiles_dir() / f"{hw.fingerprint()}{suffix}.toml"


def save_tuned(profile: Profile, hw: HardwareProfile, family: str = DEFAULT_FAMILY) -> Path:
    """Store ``profile`` as the tuned profile of this machine and voice family (replacing an
    earlier one). A file that cannot be written is an OutputError naming it."""
    fp = hw.fingerprint()
    default_name = f"tuned-{fp}" if family == DEFAULT_FAMILY else f"tuned-{fp}-{family}"
    stamped = replace(
        profile,
        name=profile.name if profile.kind == "tuned" and profile.name else default_name,
        kind="tuned", fingerprint=fp, family=family, match={},
        created=profile.created or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        hardware=profile.hardware or f"{hw.cpu_model}, {hw.effective_cpus} CPUs"
        + "".join(f", {g.name}" for g in hw.gpus),
        plan={k: list(v) if isinstance(v, tuple) else v for k, v in profile.plan.items()},
        versions={**versions(), **profile.versions},
    )  # fmt: skip
    path = tuned_path(hw, family)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, stamped.to_toml())
    except OSError as err:
        raise output_error(path, err, "save the tuned profile to") from None
    return path


def load_tuned(hw: HardwareProfile, family: str = DEFAULT_FAMILY) -> Profile | None:
    """This machine's tuned profile for ``family``, or None. A file that records another family
    is not applied (it cannot be found under this family's name unless renamed by hand)."""
    path = tuned_path(hw, family)
    if not path.is_file():
        return None
    profile = read_tuned(path)
    if profile.family and profile.family != family:
        return None
    return profile


def read_tuned(path: Path) -> Profile:
    """A tuned profile file, read: every way it can be broken (not UTF-8, not readable, not TOML,
    unknown keys) is one InputError naming it and the fix, as ``Profile.from_toml`` says it."""
    fix = f"delete it (`tts profile delete {path.stem}`, or rm {path}) and run `tts tune` again"
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"tuned profile {path} is not UTF-8 (byte {err.start}): {fix}.") from None
    except OSError as err:
        raise InputError(f"cannot read tuned profile {path}: {err.strerror}; {fix}.") from None
    return Profile.from_toml(text, source=str(path), kind="tuned")


def _tuned_files() -> list[Path]:
    folder = profiles_dir()
    return sorted(p for p in folder.glob("*.toml") if p.is_file()) if folder.is_dir() else []


def list_profiles() -> list[Profile]:
    """Shipped presets, then the tuned profiles found in the user config dir."""
    tuned = [read_tuned(p) for p in _tuned_files()]
    return load_presets() + sorted(tuned, key=lambda p: p.name)


def delete(name: str) -> Path:
    """Remove a tuned profile by name or fingerprint; presets ship with the package and stay."""
    if any(p.name == name for p in load_presets()):
        raise InputError(f"{name!r} is a shipped preset and cannot be deleted; override it with flags or `tts tune`.")
    for path in _tuned_files():
        if path.stem != name:  # by file name first: a corrupt file can still be deleted
            try:
                profile = read_tuned(path)
            except InputError:
                continue
            if name not in (profile.name, profile.fingerprint):
                continue
        path.unlink()
        return path
    raise InputError(f"no tuned profile named {name!r}: `tts profile list` shows the names.")


def active_profile(
    hw: HardwareProfile, *, torch_available: bool | None = None, family: str = DEFAULT_FAMILY
) -> Profile | None:
    """What applies to this machine and family: its tuned profile, else the best matching preset."""
    return load_tuned(hw, family) or pick_preset(hw, torch_available=torch_available)
