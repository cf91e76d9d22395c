"""GPU discovery: through torch when it is installed, else nvidia-smi, else none.

torch is imported only inside `probe_gpus` (never at module import): the CLI and the ONNX
path must run on a machine without it, and importing it costs about a second.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass

# Compute capability (major, minor) -> NVIDIA architecture name. A major version alone is
# enough from Hopper on; Ampere and Ada share major 8 and differ by minor.
_ARCH_BY_CC: dict[tuple[int, int], str] = {
    (7, 0): "Volta",
    (7, 2): "Volta",
    (7, 5): "Turing",
    (8, 0): "Ampere",
    (8, 6): "Ampere",
    (8, 7): "Ampere",
    (8, 9): "Ada",
}
_ARCH_BY_MAJOR = {9: "Hopper", 10: "Blackwell", 11: "Blackwell", 12: "Blackwell"}

# nvidia-smi answers in well under a second; a wedged driver can hang it for minutes.
NVIDIA_SMI_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class GPUInfo:
    name: str
    compute_capability: str  # "8.6"
    memory_mib: int

    @property
    def sm(self) -> str:
        """The CUDA target name, e.g. ``sm_86``."""
        return "sm_" + self.compute_capability.replace(".", "")

    @property
    def architecture(self) -> str:
        return architecture_of(self.compute_capability)


def architecture_of(compute_capability: str) -> str:
    try:
        major_s, minor_s = compute_capability.split(".", 1)
        major, minor = int(major_s), int(minor_s)
    except ValueError:
        return "unknown"
    return _ARCH_BY_CC.get((major, minor)) or _ARCH_BY_MAJOR.get(major, "unknown")


def torch_available() -> bool:
    """Whether torch can be imported, without importing it."""
    return importlib.util.find_spec("torch") is not None


#: Files a GPU driver that torch can use creates: NVIDIA's control device and proc entry,
#: and the kernel fusion driver that ROCm builds of torch use.
DRIVER_PATHS = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/kfd")


def driver_present() -> bool:
    """Whether this machine has a GPU driver at all; cheap, and imports nothing."""
    return any(os.path.exists(p) for p in DRIVER_PATHS) or shutil.which("nvidia-smi") is not None


def cuda_available() -> bool:
    """Whether torch can run on a CUDA GPU here. Without a GPU driver, or without torch, the
    answer is no and torch is not imported (that alone costs a second)."""
    if not driver_present() or not torch_available():
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def probe_gpus() -> tuple[GPUInfo, ...]:
    """GPUs as torch sees them when torch is installed (so CUDA_VISIBLE_DEVICES and a CPU-only
    torch build count: a GPU torch cannot use is no GPU for the plan), else as nvidia-smi does.
    Without any GPU driver torch is not even imported: that alone costs 2.2 s on the dev VM, and
    `tts synth` detects the machine on every run to pick its plan."""
    if not driver_present():
        return ()
    return _from_torch() if torch_available() else _from_nvidia_smi()


def _from_torch() -> tuple[GPUInfo, ...]:
    try:
        import torch  # lazy: optional extra

        if not torch.cuda.is_available():
            return ()
        found = []
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            found.append(GPUInfo(props.name, f"{props.major}.{props.minor}", props.total_memory // (1 << 20)))
        return tuple(found)
    except Exception:  # a broken CUDA install must not break `tts profile`
        return ()


def _from_nvidia_smi() -> tuple[GPUInfo, ...]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    query = [exe, "--query-gpu=name,compute_cap,memory.total", "--format=csv,noheader"]
    try:
        done = subprocess.run(query, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    if done.returncode != 0:
        return ()
    return parse_nvidia_smi(done.stdout)


def parse_nvidia_smi(text: str) -> tuple[GPUInfo, ...]:
    """Rows like ``NVIDIA H100 80GB HBM3, 9.0, 81559 MiB``; malformed rows are skipped."""
    found = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.rsplit(",", 2)]
        if len(parts) != 3 or not parts[0]:
            continue
        name, cap, mem = parts
        digits = mem.split()[0] if mem else ""
        found.append(GPUInfo(name, cap, int(digits) if digits.isdigit() else 0))
    return tuple(found)
