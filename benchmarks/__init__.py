"""Benchmarks of monitorgen: synthetic specs of growing size and a timing script."""
