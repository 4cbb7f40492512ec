"""Fault injection runs (issue 7, R1-R6): kill, cut and race the real processes, then count what
went wrong. Each run returns figures in the benchmarks' shape, ``value`` = failures found,
``goal`` = 0. ``python -m bench.faults`` runs them all; tests/reliability holds the short forms."""
