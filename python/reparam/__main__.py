"""``python -m reparam``: ``bench`` (sampler microbenchmarks) and ``config``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """main(argv=None)

    Dispatch ``python -m reparam SUBCOMMAND ...``.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``python -m reparam`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m reparam",
        description="reparam command line tools.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "bench",
        help="time standard_normal against NumPy (and torch, JAX if installed), or with --sizes-sweep "
        "every entry point against the NumPy/torch code it replaces; see `python -m reparam bench --help`",
        add_help=False,
    )
    sub.add_parser("config", help="print version, SIMD paths and threads (reparam.show_config())")
    if not args:
        parser.print_help(sys.stderr)
        return 2
    if args[0] == "bench":
        # The bench options are parsed by reparam._bench itself, so that its --help
        # lists them and the command line it prints is exactly what was typed.
        from ._bench import main as bench_main

        return bench_main(args[1:])
    ns = parser.parse_args(args)
    if ns.command == "config":
        from ._runtime import show_config

        show_config()
        return 0
    parser.print_help()  # pragma: no cover - argparse rejects anything else
    return 2


if __name__ == "__main__":
    sys.exit(main())
