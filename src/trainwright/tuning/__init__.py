"""Layer package: tuning."""
