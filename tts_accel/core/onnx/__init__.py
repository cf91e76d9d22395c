"""ONNX Runtime for every family: sessions built from the plan, and derived copies of a graph."""
