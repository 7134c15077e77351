"""Operations code: backup and restore, and the smoke test of a running deployment.

:mod:`~privatetrade.ops.backup` writes and restores archives of the database and the
data directory; :mod:`~privatetrade.ops.smoke` checks a deployment over HTTP. Only the
command line uses this package; it never imports the web service, the job runtime or
the command line.
"""
