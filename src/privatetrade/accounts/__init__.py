"""Accounts: users, passwords, sessions, API tokens and one-time login links."""
