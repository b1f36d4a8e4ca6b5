"""Benchmarks: ``python -m bench`` prints every table (see bench/README.md)."""
