"""Layer package: serving."""
