"""Layer package: monitoring."""
