"""Benchmarks for claude-tui (run with ``make bench`` or ``python -m bench.bench_memory``)."""
