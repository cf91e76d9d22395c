"""Audio out: PCM helpers, the formats this installation can write, and the sinks that own the bytes."""
