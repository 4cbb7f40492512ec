"""batterytrace: event-sourced full-lifecycle traceability of EV power batteries."""
