"""``python -m ensembler.cli``."""

from ensembler.cli.main import main

main()
