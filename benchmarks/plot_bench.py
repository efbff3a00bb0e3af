"""Plot a saved ``python -m reparam bench --json FILE`` run.

Usage::

    python -m reparam bench --json bench.json
    python benchmarks/plot_bench.py bench.json -o bench.png

Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reparam._bench import load_json, plot_results, plot_title


def main(argv: Sequence[str] | None = None) -> int:
    """main(argv=None)

    Read the JSON file and save the bar chart.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 without matplotlib.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="file written by python -m reparam bench --json")
    parser.add_argument("-o", "--output", default="bench.png", help="image to write")
    args = parser.parse_args(argv)
    meta, results = load_json(args.json)
    try:
        plot_results(results, args.output, plot_title(meta["command"], meta["machine"]))
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
