"""The national demo data set: a fictional cast of enterprises, outlets and batteries with whole lives.

Its own package because it is neither the service nor the domain: it drives the application like
any client would (``national.generate_demo``), and the CLI's ``demo`` and ``serve --demo``, the
tests and the benchmarks load it. Kept empty here so that importing one part (the cast's names,
say) does not load the event store's libraries.
"""
