"""Benchmarks: `python -m bench.run` measures the backend, the browser, long inputs and concurrency."""
