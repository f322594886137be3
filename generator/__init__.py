"""factsite: a static-site generator for fact-checking newsrooms."""

__version__ = "0.1.0"
