"""sagacrew package."""
