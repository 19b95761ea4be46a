"""ganforge.theory."""
