"""ganforge.engine."""
