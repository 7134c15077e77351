"""Root of the test tree; keeps ``tests/`` importable so modules can use ``builders``."""
