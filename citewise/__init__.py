"""citewise: answers built from verified, verbatim quotations of their sources."""

__version__ = "0.1.0"
