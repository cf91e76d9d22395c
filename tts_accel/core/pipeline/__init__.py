"""The pipeline: text to chunks to pieces of audio in text order, scheduled over the plan's workers."""
