"""Triton kernels, each beside a pure-torch reference. Imported only on the torch path."""
