"""CUDA-graph execution of PiperVits with bucketed shapes.

A graph replays fixed shapes, but the text length T and the frame count F (decided by the
duration predictor) vary per chunk. So the work is captured as two graphs:

- text graph per text bucket Tb (T rounded up to ``text_bucket``): encoder + duration predictor
  on ids padded with zeros; ``lengths`` masks the padding, so valid positions are exact;
- audio graph per (Tb, Fb) (F rounded up to ``frame_bucket``): alignment, flow and decoder,
  reading the text graph's output buffers, with the decoder masked past the true length
  (see decoder.py), so the first F * hop samples are those of an unpadded run.

Between the two, one device->host copy reads F. Noise is drawn for the true (unpadded) shapes
in the eager order and copied into the static buffers, so a seeded run matches eager mode.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch

from tts_accel.core.voices.piper.torch_vits.model import PiperVits, TextOutputs


def round_up(n: int, bucket: int) -> int:
    return max(bucket, -(-n // bucket) * bucket)


@dataclass
class _TextGraph:
    graph: torch.cuda.CUDAGraph
    ids: torch.Tensor  # (1, Tb) long
    lengths: torch.Tensor  # (1,) long
    dp_noise: torch.Tensor  # (1, 2, Tb)
    length_scale: torch.Tensor  # () float
    out: TextOutputs


@dataclass
class _AudioGraph:
    graph: torch.cuda.CUDAGraph
    prior_noise: torch.Tensor  # (1, C, Fb)
    audio: torch.Tensor  # (1, Fb * hop)


class CudaGraphRunner:
    """Replays captured graphs for one sequence at a time (calls are serialised by a lock)."""

    def __init__(self, model: PiperVits, text_bucket: int = 32, frame_bucket: int = 128,
                 max_audio_graphs: int = 12) -> None:  # fmt: skip
        self.model = model
        self.device = model.enc_p.emb.weight.device
        self.dtype = model.enc_p.emb.weight.dtype
        if self.device.type != "cuda":
            raise ValueError("CudaGraphRunner needs a model on a CUDA device")
        self.text_bucket, self.frame_bucket, self.max_audio_graphs = text_bucket, frame_bucket, max_audio_graphs
        self._text: dict[int, _TextGraph] = {}
        self._audio: OrderedDict[tuple[int, int], _AudioGraph] = OrderedDict()  # LRU
        self._lock = threading.Lock()

    def _capture(self, fn):  # type: ignore[no-untyped-def]
        """Warm fn up on a side stream (lazy inits, Triton compiles), then capture it."""
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream), torch.inference_mode():
            for _ in range(2):
                fn()
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            out = fn()
        return graph, out

    def _text_graph(self, tb: int) -> _TextGraph:
        if tb not in self._text:
            dev, dt = self.device, self.dtype
            ids = torch.zeros((1, tb), dtype=torch.long, device=dev)
            lengths = torch.full((1,), tb, dtype=torch.long, device=dev)
            dp_noise = torch.zeros((1, 2, tb), dtype=dt, device=dev)
            length_scale = torch.ones((), dtype=torch.float32, device=dev)
            graph, out = self._capture(lambda: self.model.text_stage(ids, lengths, dp_noise, length_scale))
            self._text[tb] = _TextGraph(graph, ids, lengths, dp_noise, length_scale, out)
        return self._text[tb]

    def _audio_graph(self, tb: int, fb: int, text: _TextGraph) -> _AudioGraph:
        key = (tb, fb)
        if key in self._audio:
            self._audio.move_to_end(key)
            return self._audio[key]
        prior = torch.zeros((1, self.model.cfg.hidden, fb), dtype=self.dtype, device=self.device)
        graph, (audio, _) = self._capture(lambda: self.model.audio_stage(text.out, prior, masked_decoder=True))
        self._audio[key] = _AudioGraph(graph, prior, audio)
        while len(self._audio) > self.max_audio_graphs:
            self._audio.popitem(last=False)
        return self._audio[key]

    def infer(self, ids: torch.Tensor, noise_scale: float, length_scale: float, noise_w: float,
              generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        """ids (T,) long -> audio (N,) float32 on the CPU, N = frames * hop."""
        t = int(ids.shape[0])
        tb = round_up(t, self.text_bucket)
        with self._lock:
            tg = self._text_graph(tb)
            tg.ids.zero_()
            tg.ids[0, :t].copy_(ids)
            tg.lengths.fill_(t)
            tg.length_scale.fill_(length_scale)
            tg.dp_noise.zero_()
            if noise_w != 0:
                tg.dp_noise[..., :t].copy_(self._randn((1, 2, t), generator) * noise_w)
            tg.graph.replay()
            frames = int(tg.out.w_ceil.sum().clamp_min(1).item())  # the one host sync
            ag = self._audio_graph(tb, round_up(frames, self.frame_bucket), tg)
            ag.prior_noise.zero_()
            if noise_scale != 0:
                ag.prior_noise[..., :frames].copy_(self._randn((1, self.model.cfg.hidden, frames), generator)
                                                   * noise_scale)  # fmt: skip
            ag.graph.replay()
            return ag.audio[0, : frames * self.model.hop_length].float().cpu()

    def _randn(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=self.device, dtype=self.dtype)

    def close(self) -> None:
        with self._lock:
            self._text.clear()
            self._audio.clear()
