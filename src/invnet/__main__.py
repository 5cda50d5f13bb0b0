"""``python -m invnet SUBCOMMAND ...``: the ``invnet`` command (:mod:`invnet.cli`)."""

from .cli import main

raise SystemExit(main())
