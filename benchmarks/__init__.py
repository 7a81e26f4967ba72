"""chatd's load harness: ``python -m benchmarks run --scenario all`` (see README.md)."""
