"""``python -m smartdistricts`` is the same as the ``smartdistricts`` command."""

from smartdistricts.cli.main import main

main()
