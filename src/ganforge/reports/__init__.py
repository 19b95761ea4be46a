"""ganforge.reports."""
