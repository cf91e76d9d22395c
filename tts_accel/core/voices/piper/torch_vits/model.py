"""PiperVits: the whole VITS inference path of a Piper voice, assembled from its ONNX weights.

    ids (B, T) --TextEncoder--> x, m_p, logs_p --DurationPredictor--> logw --ceil--> frames per id
        --expand m_p/logs_p to frames, add noise--> z_p --Flow (reverse)--> z --Generator--> audio

``infer`` is split in two stages (text side, audio side) so that the CUDA-graph runner can
capture each at a fixed bucket shape and pass the noise in as tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tts_accel.core.voices.piper.torch_vits.decoder import Generator
from tts_accel.core.voices.piper.torch_vits.duration import DurationPredictor
from tts_accel.core.voices.piper.torch_vits.flow import Flow
from tts_accel.core.voices.piper.torch_vits.ops import FusedOps
from tts_accel.core.voices.piper.torch_vits.text_encoder import TextEncoder
from tts_accel.core.voices.piper.torch_vits.weights import VitsConfig, load_onnx_weights

#: intermediate tensors ``infer(capture=...)`` fills, in pipeline order
CAPTURE_POINTS = ("enc.x", "enc.m_p", "enc.logs_p", "dp.logw", "w_ceil", "flow.z", "dec.out")


@dataclass
class TextOutputs:
    x: torch.Tensor  # (B, C, T) encoder hidden states
    m_p: torch.Tensor  # (B, C, T) prior mean
    logs_p: torch.Tensor  # (B, C, T) prior log-scale
    mask: torch.Tensor  # (B, 1, T)
    logw: torch.Tensor  # (B, 1, T) log-durations
    w_ceil: torch.Tensor  # (B, 1, T) frames per id (integers stored as float32)


class PiperVits(nn.Module):
    def __init__(self, cfg: VitsConfig, decoder_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.enc_p = TextEncoder(cfg.n_vocab, cfg.hidden, cfg.filter_channels, cfg.n_heads,
                                 cfg.n_enc_layers, cfg.ffn_kernel, cfg.window)  # fmt: skip
        self.dp = DurationPredictor(cfg.hidden, cfg.dp_kernel, cfg.dp_flow_ids, cfg.num_bins)
        self.flow = Flow(cfg.hidden, cfg.hidden, cfg.wn_kernel, cfg.wn_layers, cfg.flow_ids)
        self.dec = Generator(cfg, decoder_channels)
        # the stage callables infer() runs; compile() swaps in torch.compile'd versions
        self._text_fn = self.text_stage
        self._audio_fn = self.audio_stage

    @classmethod
    def from_onnx(cls, path: str | Path, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> PiperVits:  # fmt: skip
        state, cfg = load_onnx_weights(path)
        model = cls(cfg, decoder_channels=state["dec.conv_pre.weight"].shape[0])
        tensors = {k: torch.from_numpy(v.copy()) for k, v in state.items()}
        model.load_state_dict(tensors, strict=True)  # every parameter found, nothing left over
        model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
        # The duration predictor stays float32: in bfloat16 its spline flows move per-phoneme
        # durations (waveform cosine 0.18 against float32 on a test sentence); it is ~5 % of the work.
        model.dp.float()
        return model

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def set_ops(self, ops: FusedOps) -> None:
        """Bind the fused element-wise ops (torch references or Triton launchers) in every module."""
        for module in self.modules():
            if hasattr(module, "ops"):
                module.ops = ops

    def compile(self, **options) -> None:  # type: ignore[no-untyped-def]
        """Run the audio stage (alignment, flow, decoder: ~90 % of eager CPU time) through torch.compile
        with dynamic shapes. The text stage stays eager: its per-offset attention loop and spline
        made inductor take minutes on 2 cores for a few percent of the run time."""
        options.setdefault("dynamic", True)
        self._audio_fn = torch.compile(self.audio_stage, **options)

    # -- stages -------------------------------------------------------------------------------------
    def text_stage(self, ids: torch.Tensor, lengths: torch.Tensor, dp_noise: torch.Tensor,
                   length_scale: float | torch.Tensor) -> TextOutputs:  # fmt: skip
        """ids (B, T), lengths (B,), dp_noise (B, 2, T) already scaled by noise_w."""
        x, m_p, logs_p, mask = self.enc_p(ids, lengths)
        logw = self.dp(x.float(), mask.float(), dp_noise.float())  # (B, 1, T) float32
        # float32 whatever the model dtype: bfloat16 cannot count frames past 256 exactly
        w_ceil = torch.ceil(torch.exp(logw.float()) * mask.float() * length_scale)
        return TextOutputs(x, m_p, logs_p, mask, logw, w_ceil)

    def audio_stage(self, t: TextOutputs, prior_noise: torch.Tensor, masked_decoder: bool,
                    capture: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """prior_noise (B, C, F) already scaled by noise_scale; F frames (>= every item's length).

        Returns audio (B, F * hop) and valid frames per item (B,). ``masked_decoder`` zeroes the
        decoder's activations past each item's end, needed whenever F exceeds an item's length.
        """
        frames = prior_noise.shape[-1]
        y_lengths = t.w_ceil.sum(dim=(1, 2)).clamp_min(1).long()  # (B,)
        y_mask = (torch.arange(frames, device=y_lengths.device)[None, :] < y_lengths[:, None])
        y_mask = y_mask.unsqueeze(1).to(t.m_p.dtype)  # (B, 1, F)
        path = (_alignment(t.w_ceil, frames) * y_mask.transpose(1, 2)).to(t.m_p.dtype)  # (B, F, T)
        m = torch.bmm(t.m_p, path.transpose(1, 2))  # (B, C, F)
        logs = torch.bmm(t.logs_p, path.transpose(1, 2))
        z_p = m + prior_noise * torch.exp(logs)
        z = self.flow.reverse(z_p, y_mask) * y_mask
        audio = self.dec(z, y_lengths if masked_decoder else None)  # (B, 1, F * hop)
        if capture is not None:
            capture["flow.z"], capture["dec.out"] = z, audio
        return audio[:, 0], y_lengths

    # -- public -------------------------------------------------------------------------------------
    @torch.inference_mode()
    def infer(self, ids: torch.Tensor, lengths: torch.Tensor, noise_scale: float = 0.667,
              length_scale: float = 1.0, noise_w: float = 0.8, generator: torch.Generator | None = None,
              capture: dict | None = None,
              frames: list | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """ids (B, T) long, lengths (B,) -> audio (B, N) float, audio_lengths (B,) in samples.

        Items shorter than N are zero past their length. ``capture``, when a dict, receives the
        tensors named in CAPTURE_POINTS; ``frames``, when a list, receives the frames per id
        (B, 1, T) (without passing anything into a compiled stage).
        """
        dev, dtype = self.enc_p.emb.weight.device, self.enc_p.emb.weight.dtype
        ids, lengths = ids.to(dev), lengths.to(dev)
        b, t = ids.shape
        dp_noise = _noise((b, 2, t), noise_w, generator, dev, dtype)
        text = self._text_fn(ids, lengths, dp_noise, length_scale)
        if frames is not None:
            frames.append(text.w_ceil)
        frames = int(text.w_ceil.sum(dim=(1, 2)).clamp_min(1).max().item())
        prior_noise = _noise((b, self.cfg.hidden, frames), noise_scale, generator, dev, dtype)
        audio, y_lengths = self._audio_fn(text, prior_noise, masked_decoder=b > 1, capture=capture)
        audio_lengths = y_lengths * self.hop_length
        keep = torch.arange(audio.shape[-1], device=dev)[None, :] < audio_lengths[:, None]
        if capture is not None:
            capture.update({"enc.x": text.x, "enc.m_p": text.m_p, "enc.logs_p": text.logs_p,
                            "dp.logw": text.logw, "w_ceil": text.w_ceil})  # fmt: skip
        return audio * keep, audio_lengths


def _alignment(w_ceil: torch.Tensor, frames: int) -> torch.Tensor:
    """Hard monotonic alignment: (B, 1, T) frames per id -> (B, F, T), 1 where frame f belongs to id t."""
    end = torch.cumsum(w_ceil[:, 0], dim=-1)  # (B, T)
    start = end - w_ceil[:, 0]
    f = torch.arange(frames, device=w_ceil.device, dtype=w_ceil.dtype)[None, :, None]  # (1, F, 1)
    return ((f >= start[:, None, :]) & (f < end[:, None, :])).to(w_ceil.dtype)


def _noise(shape: tuple[int, ...], scale: float, generator: torch.Generator | None, device: torch.device,
           dtype: torch.dtype) -> torch.Tensor:  # fmt: skip
    if scale == 0:
        return torch.zeros(shape, device=device, dtype=dtype)
    return torch.randn(shape, generator=generator, device=device, dtype=dtype) * scale
