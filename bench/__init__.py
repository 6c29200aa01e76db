"""Benchmarks: each prints one JSON line with its ratio; the README says how to run them."""
