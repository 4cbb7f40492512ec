"""GS1 EPCIS 2.0 in and out: battery events as EPCIS documents, and EPCIS documents as commands.

The mapping itself is domain data (``events/epcis_mapping.py``); this package writes documents
(``events``, ``document``), reads the events a caller may see (``source``), answers the EPCIS query
subset (``query``) and records a partner's captured document (``capture``).
"""
