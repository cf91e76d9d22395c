"""Everything that is neither a CLI nor a kernel."""
