"""Where `tts tune` keeps its winner, and how `tts synth` finds it again.

ADAPTER, to be removed once feat-hw lands in main: it calls the hardware helper's API
(``HardwareProfile.detect().fingerprint()``, ``profiles.store.save_tuned / load_tuned``)
when that exists, and otherwise writes the same information itself, as TOML under
``$XDG_CONFIG_HOME/tts-accel/tuned/<fingerprint>.toml``, keyed by a hash of the CPU model and ISA.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tts_accel.core.plan import ExecutionPlan

_PLAN_KEYS = ExecutionPlan.field_names()


def fingerprint() -> str:
    from tts_accel.core.backends.graph_cache import machine_key

    return machine_key()


def _store():  # type: ignore[no-untyped-def]
    try:
        from tts_accel.core.hardware import HardwareProfile
        from tts_accel.profiles import store
    except ImportError:
        return None, None
    return store, HardwareProfile.detect()


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tts-accel" / "tuned"


def tuned_path() -> Path:
    return config_dir() / f"{fingerprint()}.toml"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def save(plan: ExecutionPlan, measured: dict[str, Any]) -> Path:
    """Write ``plan`` (and what it measured) as this machine's tuned profile; return the file."""
    store, hw = _store()
    if store is not None:  # the hardware helper's store owns the format
        profile = store.Profile.from_plan(plan, measured=measured) if hasattr(store.Profile, "from_plan") else None
        if profile is not None:
            return Path(store.save_tuned(profile, hw))
    from tts_accel.core.backends.graph_cache import _atomic_write_bytes

    lines = [f"# tts tune: the fastest plan measured on this machine ({fingerprint()})", "[plan]"]
    lines += [f"{k} = {_toml_value(getattr(plan, k))}" for k in _PLAN_KEYS]
    lines += ["", "[measured]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in measured.items() if v is not None]
    path = tuned_path()
    _atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def load() -> ExecutionPlan | None:
    """This machine's tuned plan, every field marked as coming from the tuned profile; None if none."""
    try:
        store, hw = _store()
        profile = store.load_tuned(hw) if store is not None else None
    except Exception:  # the hardware helper's store is new: never let it stop synthesis
        profile = None
    plan = getattr(profile, "plan", None)
    if isinstance(plan, ExecutionPlan):
        return plan.with_(sources={k: "tuned" for k in _PLAN_KEYS})
    path = tuned_path()
    if not path.is_file():
        return None
    try:
        import tomllib
    except ImportError:  # Python 3.10: no reader without a dependency; fall back to heuristics
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))["plan"]
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in _PLAN_KEYS}
        return ExecutionPlan(**values, sources={k: "tuned" for k in values})
    except Exception:  # a broken profile must never stop synthesis: heuristics instead
        return None
