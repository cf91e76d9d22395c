"""What this machine offers: CPU model, cores, ISA flags, caches, peak FLOP/s, GPUs."""
