"""Layer package: reporting."""
