"""Files the project keeps: atomic replacement, the user cache and its digests, TOML in and out."""
