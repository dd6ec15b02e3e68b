"""Benchmarks behind `citewise bench`: they print numbers, they never pass or fail."""
