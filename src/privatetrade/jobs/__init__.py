"""Jobs: submitting, dispatching and executing backtests (the row is the truth)."""
