"""Text in: normalization, chunking under a phoneme budget, phonemization, and the shipped sample texts."""
