"""Hand-written PyTorch port of Piper's VITS inference, with weights read from the voice's ONNX file.

Imports torch: only the torch backend path imports this package.
"""
