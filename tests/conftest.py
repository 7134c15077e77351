"""Root of the test tree; keeps ``tests/`` importable so modules can use ``builders``.

Every session also runs :mod:`temp_guard`: it fails when the tests leave ``privatetrade-*``
entries in the system's temporary directory.
"""

pytest_plugins = ["pytester", "temp_guard"]
