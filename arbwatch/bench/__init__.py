"""Benchmarks: the vectorized engine measured against a naive pure-Python baseline."""
