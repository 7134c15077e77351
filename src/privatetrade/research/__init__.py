"""Research on top of backtests: parameter optimization, walk-forward analysis, overfitting."""
