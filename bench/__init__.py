"""Benchmarks: each prints one JSON line with its ratio (see DESIGN.md)."""
