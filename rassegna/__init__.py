"""rassegna's shell: command line, configuration, daemon, scheduling and HTTP server."""

__version__ = "0.1.0"
