"""Reproducible benchmarks against named peers; results go to BENCHMARKS.md."""
