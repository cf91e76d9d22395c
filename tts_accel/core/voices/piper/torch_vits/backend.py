"""TorchVitsBackend: the Backend interface over the PyTorch port of a Piper voice.

Modes:
  torch    eager PyTorch (CPU or CUDA)
  triton   eager PyTorch with the fused Triton kernels bound into the modules (CUDA; on a CPU only
           under TRITON_INTERPRET=1, which is for checking: about 6x slower than eager)
  graph    CUDA graphs with bucketed shapes (CUDA only)
  hybrid   triton kernels inside CUDA graphs (CUDA only)
  compile  torch.compile of the two stages (CPU or CUDA; the first call of a new shape compiles)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import torch

from tts_accel.core.errors import DeviceUnavailableError, InputError, ModelError
from tts_accel.core.plan.modes import SPECS, TORCH_MODES
from tts_accel.core.voices.base import Backend
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.piper.config import PiperConfig
from tts_accel.core.voices.piper.torch_vits.model import PiperVits
from tts_accel.core.voices.piper.torch_vits.ops import torch_ops, triton_ops

MODES = TORCH_MODES
#: modes that capture CUDA graphs (the vocabulary's needs_cuda)
GRAPH_MODES = tuple(m for m in TORCH_MODES if SPECS[m].needs_cuda)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

__all__ = ["DTYPES", "GRAPH_MODES", "MODES", "DeviceUnavailableError", "TorchVitsBackend"]


class TorchVitsBackend(Backend):
    def __init__(self, model_path: str | Path, config: PiperConfig | dict, mode: str = "torch",
                 device: str = "auto", dtype: torch.dtype | str = torch.float32, threads: int = 0) -> None:  # fmt: skip
        if mode not in MODES:
            raise InputError(f"unknown torch mode {mode!r}: use one of {', '.join(MODES)}.")
        if not isinstance(config, PiperConfig):
            config = PiperConfig.from_dict(config)
        dtype = DTYPES[dtype] if isinstance(dtype, str) and dtype in DTYPES else dtype
        if not isinstance(dtype, torch.dtype) or dtype not in DTYPES.values():
            raise InputError(f"unsupported dtype {dtype!r}: use one of {', '.join(DTYPES)}.")
        if threads > 0:
            # The plan's intra-op thread count, as ORT gets it. torch's pool is per process: on the
            # shared 2-core VM its default 2 threads ran 5x slower than 1 (docs/torch_backend.md).
            torch.set_num_threads(threads)
        self.mode = mode
        self.device = _resolve_device(device, mode)
        self.dtype = dtype
        self.sample_rate = config.sample_rate
        self.default_noise_scale = config.noise_scale
        self.default_noise_w = config.noise_w
        self.supports_batch = mode not in GRAPH_MODES
        self._base_seed: int | None = None
        self._lock = threading.Lock()  # compile mode: one thread compiles at a time

        try:
            self.model = PiperVits.from_onnx(model_path, device=self.device, dtype=dtype)
        except ModelError:
            raise
        except Exception as err:
            raise ModelError(f"could not build the torch model from {model_path}: {err}") from err
        self.model.set_ops(triton_ops() if mode in ("triton", "hybrid") else torch_ops())
        if mode == "compile":
            self.model.compile()
        self.runner = None
        if mode in GRAPH_MODES:
            from tts_accel.core.voices.piper.torch_vits.graphs import CudaGraphRunner

            self.runner = CudaGraphRunner(self.model)

    # -- helpers ------------------------------------------------------------------------------------
    def _scales(self, params: SynthParams) -> tuple[float, float, float]:
        ns = self.default_noise_scale if params.noise_scale is None else params.noise_scale
        nw = self.default_noise_w if params.noise_w is None else params.noise_w
        return float(ns), float(params.length_scale), float(nw)

    def _generator(self, params: SynthParams) -> torch.Generator | None:
        seed = params.seed if params.seed is not None else self._base_seed
        if seed is None:
            return None
        return torch.Generator(device=self.device).manual_seed(seed)

    # -- Backend ------------------------------------------------------------------------------------
    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        return self.infer_batch([ids], params)[0]

    def infer_with_frames(self, ids: np.ndarray, params: SynthParams) -> tuple[np.ndarray, np.ndarray | None]:
        return self.infer_batch_with_frames([ids], params)[0]

    def infer_batch(self, batch: list[np.ndarray], params: SynthParams) -> list[np.ndarray]:
        return [audio for audio, _ in self.infer_batch_with_frames(batch, params)]

    def infer_batch_with_frames(
        self, batch: list[np.ndarray], params: SynthParams
    ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Audio and frames per id (the text stage's w_ceil; None from a CUDA-graph runner)."""
        if not batch:
            return []
        for ids in batch:
            if ids.ndim != 1 or ids.shape[0] == 0:
                raise InputError(f"each id sequence must be a non-empty 1-D array, got shape {ids.shape}.")
        ns, ls, nw = self._scales(params)
        gen = self._generator(params)
        frames: list = []
        try:
            if self.runner is not None:
                return [
                    (self.runner.infer(torch.from_numpy(np.asarray(ids, dtype=np.int64)), ns, ls, nw, gen).numpy(),
                     None)
                    for ids in batch
                ]  # fmt: skip
            lengths = torch.tensor([len(ids) for ids in batch])
            padded = torch.zeros((len(batch), int(lengths.max())), dtype=torch.long)
            for i, ids in enumerate(batch):
                padded[i, : len(ids)] = torch.from_numpy(np.asarray(ids, dtype=np.int64))
            if self.mode == "compile":
                with self._lock:
                    audio, audio_lengths = self.model.infer(padded, lengths, ns, ls, nw, generator=gen, frames=frames)
            else:
                audio, audio_lengths = self.model.infer(padded, lengths, ns, ls, nw, generator=gen, frames=frames)
        except (InputError, ModelError):
            raise
        except Exception as err:
            raise ModelError(f"the torch model ({self.mode} mode) failed: {err}") from err
        audio = audio.float().cpu().numpy()
        w_ceil = frames[0].float().cpu().numpy()[:, 0]  # (B, T)
        return [
            (np.ascontiguousarray(audio[i, : int(n)]), np.rint(w_ceil[i, : len(batch[i])]).astype(np.int64))
            for i, n in enumerate(audio_lengths.cpu())
        ]

    def reseed(self, seed: int) -> None:
        self._base_seed = seed

    def warmup(self) -> None:
        quiet = SynthParams(noise_scale=0.0, noise_w=0.0)
        self.infer(np.array([1, 0, 20, 0, 2], dtype=np.int64), quiet)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def _resolve_device(device: str, mode: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise InputError(f"unknown device {device!r}: use auto, cpu or cuda[:N].") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"the plan asks for device {device!r} but torch sees no CUDA GPU (`tts synth --explain` shows where "
            "it came from): re-run `tts tune` here, or remove the tuned profile with `tts profile delete NAME`."
        )
    if mode in GRAPH_MODES and dev.type != "cuda":
        raise DeviceUnavailableError(
            f"mode {mode!r} captures CUDA graphs and needs a CUDA GPU; this run is on {dev.type}. "
            "Use --mode torch or --mode compile on a CPU."
        )
    if mode in ("triton", "hybrid") and dev.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise DeviceUnavailableError(
            "mode 'triton' needs a CUDA GPU; on a CPU it runs only under the Triton interpreter "
            "(set TRITON_INTERPRET=1, slow: for checking). Use --mode torch or --mode compile."
        )
    return dev
