"""The acoustic stage of a Piper voice (its HiFi-GAN decoder) on PyTorch, in bfloat16 where the CPU
has bf16 instructions, compiled once per machine with AOTInductor at fixed window shapes.

Modules (importing this package imports none of them, and never torch):

* ``artifacts``: keys and paths of the compiled packages, the ISA class; torch-free (the planner
  stats the files to know whether the cache is warm);
* ``net``: the decoder rebuilt from the voice's ONNX weights in a 2-D layout (imports torch);
* ``aoti``: the on-disk store of AOTInductor packages: atomic builds under a lock, the C++ loader;
* ``engine``: ``TorchDecoderEngine``, a ``DecoderEngine`` at fixed context shapes (pad + mask).

Design, measurements and the cost model: docs/acoustic.md.
"""
