"""Benchmarks and dataset builders: print figures, never assert them."""
