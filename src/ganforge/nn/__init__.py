"""ganforge.nn."""
