"""The execution plan: what a run is told (model, modes), what engines cost here, and the one resolver."""
