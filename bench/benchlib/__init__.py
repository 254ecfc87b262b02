"""Helpers of the benchmark suite (bench/run.py)."""
