"""ganforge.algorithms."""
