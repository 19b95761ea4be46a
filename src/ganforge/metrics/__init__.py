"""ganforge.metrics."""
