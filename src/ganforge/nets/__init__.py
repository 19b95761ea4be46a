"""ganforge.nets."""
