"""Benchmarks of mwm-tui against bare broker clients; run ``make bench``."""
