"""Allow ``python -m privatetrade``."""

from privatetrade.cli import main

main()
