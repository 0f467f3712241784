"""Dataset fixtures (owned by the data area)."""
