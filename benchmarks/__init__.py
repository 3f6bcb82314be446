"""Benchmarks of monitorgen (run.py, synthetic.py: the compiler at growing spec sizes)."""
