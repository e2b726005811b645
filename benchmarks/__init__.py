"""Benchmarks of rnnkit against PyTorch on a CPU (a suite, not tests): ``python -m benchmarks.rnn``."""
