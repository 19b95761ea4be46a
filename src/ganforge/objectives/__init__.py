"""ganforge.objectives."""
