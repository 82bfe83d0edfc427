"""The package version: a leaf module, so any layer can read it without importing the others."""

__version__ = "0.2.0"
