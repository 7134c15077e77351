"""Market data: sample data, file imports (and later the catalog, store and providers)."""
