"""The compute engine: arrays in, arrays out; no web, database or file access."""
