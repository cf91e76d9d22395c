"""Model backends: turn id sequences into float32 audio. They never phonemize or write files."""
