"""smartdistricts: a self-hosted air-quality and civic platform for a town."""

__version__ = "0.1.0"
