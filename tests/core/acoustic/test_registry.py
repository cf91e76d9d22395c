"""The registry of acoustic engines is data: an engine on a new runtime is one module (its
builder) plus one entry, and the factory, the planner's validation and the CLI's choices read it."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from tts_accel.core.acoustic import factory, registry
from tts_accel.core.acoustic.registry import AcousticSpec
from tts_accel.core.acoustic.windows import Margins
from tts_accel.core.errors import InputError, ModelError


class _Half:
    """A made-up engine: half the reference's loudness, any window length."""

    hop, margins, shapes = 4, Margins(1, 1), None

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        return np.full(z_ctx.shape[1] * self.hop, 0.5, np.float32)


def _build(spec, source, *, settings, margins, runners, allow_compile, on_compile):  # type: ignore[no-untyped-def]
    assert spec.name == "toy-half" and source == "the family's source"
    return _Half()


@pytest.fixture
def toy_engine(monkeypatch):  # type: ignore[no-untyped-def]
    module = types.ModuleType("toy_engine_module")
    module.build = _build  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "toy_engine_module", module)
    spec = AcousticSpec("toy-half", "toy", "fp32", same_voice=False, builder="toy_engine_module:build")
    monkeypatch.setitem(registry.ENGINES, spec.name, spec)
    return spec


def test_every_name_is_spelled_once_and_the_cost_model_weighs_the_costed_ones() -> None:
    assert registry.NAMES[0] == registry.REFERENCE and registry.FAST in registry.NAMES
    assert registry.COSTED == (registry.REFERENCE, registry.FAST)
    assert registry.spec(registry.FAST).compiled and not registry.spec(registry.REFERENCE).compiled
    assert registry.for_precision("onnx", "int8") == "ort-int8"
    with pytest.raises(InputError, match="unknown acoustic engine 'nope'.*ort-fp32"):
        registry.spec("nope")


def test_an_engine_on_a_new_runtime_is_one_builder_plus_one_entry(toy_engine) -> None:  # type: ignore[no-untyped-def]
    engine = factory.make_engine("toy-half", "the family's source")  # type: ignore[arg-type]
    assert isinstance(engine, _Half) and engine.run(np.zeros((3, 5), np.float32)).shape == (20,)


def test_a_builder_that_cannot_be_loaded_is_one_model_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(registry.ENGINES, "broken", AcousticSpec("broken", "toy", "fp32", builder="no_such_mod:make"))
    with pytest.raises(ModelError, match="acoustic engine broken: its builder 'no_such_mod:make' cannot be loaded"):
        factory.make_engine("broken", None)  # type: ignore[arg-type]
