"""Read a Piper VITS ONNX file into a PyTorch state dict and the hyper-parameters it implies.

Most initializers already carry their VITS module path (``enc_p.encoder.attn_layers.0.conv_q.weight``).
The exporter renamed or folded a few, so those are recovered from the graph itself:

- the phoneme embedding is stored as ``sid`` and read by the ``/enc_p/emb/Gather`` node;
- the flow's WaveNet convolutions were weight-normalised, so their folded weights are
  ``onnx::Conv_NNNN`` and are found through the Conv node that reads them
  (``/flow/flows.6/enc/in_layers.0/Conv`` -> ``flow.flows.6.enc.in_layers.0.weight``);
- the duration predictor's first affine flow keeps ``m`` but only ``exp(-logs)`` survives
  (``/dp/flows.0/Exp_output_0``), stored here as ``dp.flows.0.inv_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tts_accel.core.errors import ModelError


@dataclass(frozen=True)
class ConvSpec:
    """Attributes of one exported Conv/ConvTranspose node."""

    dilation: int
    padding: int
    stride: int
    groups: int


@dataclass(frozen=True)
class VitsConfig:
    n_vocab: int
    hidden: int  # 192
    filter_channels: int  # 768, encoder FFN width
    n_heads: int  # 2
    window: int  # 4: relative positions -window..window
    n_enc_layers: int  # 6
    ffn_kernel: int  # 3
    dp_kernel: int  # 3
    dp_flow_ids: tuple[int, ...]  # (3, 5, 7): ConvFlows kept for reverse
    num_bins: int  # 10 spline bins
    flow_ids: tuple[int, ...]  # (0, 2, 4, 6) coupling layers
    wn_layers: int  # 4
    wn_kernel: int  # 5
    upsample_rates: tuple[int, ...]  # (8, 8, 4)
    upsample_kernels: tuple[int, ...]  # (16, 16, 8)
    resblock_kernels: tuple[int, ...]  # (3, 5, 7)
    resblock_dilations: tuple[tuple[int, ...], ...]  # ((1, 2), (2, 6), (3, 12))
    convs: dict[str, ConvSpec] = field(default_factory=dict, compare=False, repr=False)

    @property
    def hop_length(self) -> int:
        return int(np.prod(self.upsample_rates))


def load_onnx_weights(model_path: str | Path) -> tuple[dict[str, np.ndarray], VitsConfig]:
    """Return ``(state, config)``: arrays keyed by VITS module path and the shapes they imply."""
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as err:  # pragma: no cover - onnx ships with the torch extra's dev deps
        raise ModelError("the torch backend reads weights with the `onnx` package: pip install onnx") from err
    try:
        model = onnx.load(str(model_path))
    except Exception as err:
        raise ModelError(f"could not read {model_path}: {err}. Reinstall the voice package.") from err
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    state: dict[str, np.ndarray] = {k: v for k, v in inits.items() if k[0] in "edf" and "." in k}
    convs: dict[str, ConvSpec] = {}
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            path = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")  # flow.flows.6.enc.in_layers.0
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            convs[path] = ConvSpec(
                dilation=int(attrs.get("dilations", [1])[0]),
                padding=int(attrs.get("pads", [0])[0]),
                stride=int(attrs.get("strides", [1])[0]),
                groups=int(attrs.get("group", 1)),
            )
            state[f"{path}.weight"] = inits[node.input[1]]
            if len(node.input) > 2 and node.input[2]:
                state[f"{path}.bias"] = inits[node.input[2]]
        elif node.name == "/enc_p/emb/Gather":
            state["enc_p.emb.weight"] = inits[node.input[0]]
    if "/dp/flows.0/Exp_output_0" in inits:
        state["dp.flows.0.inv_scale"] = inits["/dp/flows.0/Exp_output_0"]
    try:
        config = _infer_config(state, convs)
    except (KeyError, IndexError) as err:
        raise ModelError(f"{model_path} does not look like a Piper VITS export (missing {err}).") from err
    return state, config


def _ids(state: dict[str, np.ndarray], prefix: str, suffix: str) -> list[int]:
    """Sorted integer indices i for which ``{prefix}{i}{suffix}`` is a key."""
    found = set()
    for key in state:
        if key.startswith(prefix) and key.endswith(suffix):
            head = key[len(prefix):].split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def _infer_config(state: dict[str, np.ndarray], convs: dict[str, ConvSpec]) -> VitsConfig:
    emb = state["enc_p.emb.weight"]  # (n_vocab, hidden)
    rel = state["enc_p.encoder.attn_layers.0.emb_rel_k"]  # (1, 2*window+1, k_channels)
    hidden = emb.shape[1]
    ffn = state["enc_p.encoder.ffn_layers.0.conv_1.weight"]  # (filter, hidden, k)
    dp_flow_ids = tuple(_ids(state, "dp.flows.", ".proj.weight"))
    spline_params = state[f"dp.flows.{dp_flow_ids[0]}.proj.weight"].shape[0]  # 3*bins - 1
    flow_ids = tuple(_ids(state, "flow.flows.", ".pre.weight"))
    ups = _ids(state, "dec.ups.", ".weight")
    n_res = len(_ids(state, "dec.resblocks.", ".convs.0.weight"))
    per_stage = n_res // len(ups)
    res_kernels = tuple(state[f"dec.resblocks.{i}.convs.0.weight"].shape[2] for i in range(per_stage))
    res_dil = tuple(
        tuple(convs[f"dec.resblocks.{i}.convs.{j}"].dilation
              for j in _ids(state, f"dec.resblocks.{i}.convs.", ".weight"))
        for i in range(per_stage)
    )  # fmt: skip
    return VitsConfig(
        n_vocab=emb.shape[0],
        hidden=hidden,
        filter_channels=ffn.shape[0],
        n_heads=hidden // rel.shape[2],
        window=(rel.shape[1] - 1) // 2,
        n_enc_layers=len(_ids(state, "enc_p.encoder.attn_layers.", ".conv_q.weight")),
        ffn_kernel=ffn.shape[2],
        dp_kernel=state["dp.convs.convs_sep.0.weight"].shape[2],
        dp_flow_ids=dp_flow_ids,
        num_bins=(spline_params + 1) // 3,
        flow_ids=flow_ids,
        wn_layers=len(_ids(state, f"flow.flows.{flow_ids[0]}.enc.in_layers.", ".weight")),
        wn_kernel=state[f"flow.flows.{flow_ids[0]}.enc.in_layers.0.weight"].shape[2],
        upsample_rates=tuple(convs[f"dec.ups.{i}"].stride for i in ups),
        upsample_kernels=tuple(state[f"dec.ups.{i}.weight"].shape[2] for i in ups),
        resblock_kernels=res_kernels,
        resblock_dilations=res_dil,
        convs=convs,
    )
