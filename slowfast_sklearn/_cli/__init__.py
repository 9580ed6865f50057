"""Command line: ``python -m slowfast_sklearn {demo,embed}`` (``__main__`` calls :func:`main`).

``demo [--plot FILE]`` fits PCA, FastICA and :class:`CoupledFlowEmbedding` on
scikit-learn's bundled digits data and prints one table row per method.

``embed INPUT -o OUTPUT [options]`` fits :class:`CoupledFlowEmbedding` on the
samples of a CSV or ``.npy`` file and writes their features to a CSV (with the
feature names as header) or ``.npy`` file.  Every estimator parameter is an
option; the options and their choices are read off the estimator's
``get_params`` and ``_parameter_constraints``.

Modules: :mod:`.io` (paths checked first, matrices read, features
written), :mod:`.options` (``embed``'s options from the estimator's
parameters), :mod:`.embed` and :mod:`.demo` (the subcommands),
:mod:`.figure` (the demo's figure).  Only what every command needs is
imported up front; the demo's data sets, decompositions and matplotlib are
imported inside the demo, so that ``embed`` on flat data starts as fast as
``import slowfast_sklearn``.
"""

import argparse
import sys

from .embed import add_embed_parser, run_embed
from .io import InputError

__all__ = ["main"]


def main(argv=None):
    """Entry point of ``python -m slowfast_sklearn``.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        Exit status: 0 on success, 1 for a file, path or fit error (one
        ``error:`` line on standard error); argparse exits with 2 on a
        malformed option.
    """
    parser = argparse.ArgumentParser(
        prog="python -m slowfast_sklearn",
        description="Coupled slow-fast Hebbian feature extraction (CoupledFlowEmbedding).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="compare PCA, FastICA and CoupledFlowEmbedding on the bundled digits data"
    )
    demo.add_argument("--n-components", type=int, default=2, help="features to learn (default 2)")
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    demo.add_argument(
        "--plot", metavar="FILE",
        help="write an image (.png, .svg, .pdf, ...) of the embeddings and the Lyapunov terms; "
        "the path is checked before anything is fitted (needs matplotlib)",
    )
    add_embed_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        try:
            run_demo(args.n_components, args.random_state, args.plot)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    return run_embed(args)
