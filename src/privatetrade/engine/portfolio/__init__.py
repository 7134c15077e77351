"""Portfolio backtests: several symbols, one account (allocation rules or per-symbol signals)."""
