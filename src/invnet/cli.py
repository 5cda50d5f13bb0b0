"""The package's command-line tools as one command, ``invnet`` (``[project.scripts]`` in
pyproject.toml; ``python -m invnet`` without installing):

    invnet config check FILE | schema [FILE]   the config with every default / its JSON schema
    invnet status [--configfile FILE] [--format text|md|json]   what is done, stale, missing
    invnet bundle create|restore ...            a results bundle: write one, or restore one
    invnet tuning --experiment NAME ...         the tuning sweep
    invnet readme [--check]                     README's verdict lines from the verdict table

Each subcommand is the ``main`` of its module (``python -m invnet.status`` is the same), which
parses the rest of the command line; ``invnet SUBCOMMAND --help`` shows its options.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {  # subcommand -> (module with main(argv), one line of help)
    "config": ("invnet.config", "check FILE: the config with every default; schema [FILE]: its JSON schema"),
    "status": ("invnet.status", "every problem set and run of a config: done, failed problems, missing, stale, damaged"),
    "bundle": ("invnet.bundle", "create: one archive of the artifacts with a manifest; restore FILE: check and unpack"),
    "tuning": ("invnet.tuning", "the tuning sweep of every method's declared knobs on a tuning seed"),
    "readme": ("invnet.readme", "rewrite README.md's verdict block from results/tables/verdict.csv"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: invnet SUBCOMMAND [ARGS...]", "", "subcommands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"invnet: unknown subcommand '{name}'; allowed: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
