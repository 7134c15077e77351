"""Market-data providers (optional extras): FinanceDataReader, pykrx, yfinance."""
