"""Command line: ``python -m slowfast_sklearn {demo,embed}``.

``demo [--plot FILE]`` fits PCA, FastICA and :class:`CoupledFlowEmbedding` on
scikit-learn's bundled digits data and prints one table row per method.

``embed INPUT -o OUTPUT [options]`` fits :class:`CoupledFlowEmbedding` on the
samples of a CSV or ``.npy`` file and writes their features to a CSV (with the
feature names as header) or ``.npy`` file.
"""

import argparse
import csv
import os
import sys
import time
import warnings

import numpy as np


def _orthogonality_defect(components):
    """``||V V^T - I||_F`` of the rows of ``components`` (normalised for ICA)."""
    k = components.shape[0]
    return float(np.linalg.norm(components @ components.T - np.eye(k)))


def _decorrelation(features):
    """Largest absolute off-diagonal correlation between features."""
    corr = np.corrcoef(features, rowvar=False)
    return float(np.max(np.abs(corr - np.diag(np.diag(corr)))))


def run_demo(n_components=2, random_state=0, plot=None, out=sys.stdout):
    """Fit PCA, FastICA and CoupledFlowEmbedding on digits and print a table.

    Parameters
    ----------
    n_components : int, default=2
        Number of features each method learns.
    random_state : int, default=0
        Seed for FastICA and CoupledFlowEmbedding.
    plot : str or None, default=None
        Path of a PNG with the three 2-D embeddings and the Lyapunov terms.
    out : file-like, default=sys.stdout
        Where the table goes.

    Returns
    -------
    rows : list of dict
        One dict per method with the printed figures.
    """
    from scipy.linalg import subspace_angles
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA, FastICA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ._estimator import CoupledFlowEmbedding

    X, y = load_digits(return_X_y=True)
    methods = {
        "PCA": PCA(n_components, svd_solver="full"),
        # FastICA's own whitening (scikit-learn 1.9.1) returns perfectly
        # correlated sources on digits; whitening with PCA first is the same
        # model and behaves.
        "FastICA": make_pipeline(
            PCA(n_components, whiten=True),
            FastICA(whiten=False, random_state=random_state),
        ),
        "CoupledFlowEmbedding": CoupledFlowEmbedding(n_components, random_state=random_state),
    }
    # Untimed warm-up: the first timed fit would otherwise carry the
    # process's start-up costs (BLAS initialisation, lazy imports).
    PCA(n_components, svd_solver="full").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        CoupledFlowEmbedding(n_components, max_iter=100, random_state=0).fit(X[:200])
    reference = None
    rows, fitted = [], {}
    for name, est in methods.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            features = est.fit_transform(X)
            seconds = time.perf_counter() - start
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        if name == "FastICA":
            pca, ica = est[0], est[1]
            unmixing = ica.components_ @ (pca.components_ / np.sqrt(pca.explained_variance_)[:, None])
            # ICA's unmixing rows are not orthonormal; compare their span.
            basis = np.linalg.qr(unmixing.T)[0]
            defect = _orthogonality_defect(
                unmixing / np.linalg.norm(unmixing, axis=1, keepdims=True)
            )
        else:
            basis = est.components_.T
            defect = _orthogonality_defect(est.components_)
        if reference is None:
            reference = basis
        accuracy = cross_val_score(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), features, y, cv=5
        ).mean()
        rows.append(
            {
                "method": name,
                "fit_seconds": seconds,
                "angle_to_pca": float(np.max(subspace_angles(basis, reference))),
                "orthogonality_defect": defect,
                "max_feature_correlation": _decorrelation(features),
                "probe_accuracy": float(accuracy),
                "converged": converged,
            }
        )
        fitted[name] = (est, features)

    header = (
        f"digits: {X.shape[0]} samples x {X.shape[1]} features, n_components={n_components}\n"
        f"{'method':<22}{'fit (s)':>9}{'angle to PCA (rad)':>20}{'||VV^T-I||_F':>14}"
        f"{'max |corr|':>12}{'5-fold LR acc':>15}{'converged':>11}"
    )
    print(header, file=out)
    for r in rows:
        print(
            f"{r['method']:<22}{r['fit_seconds']:>9.3f}{r['angle_to_pca']:>20.2e}"
            f"{r['orthogonality_defect']:>14.1e}{r['max_feature_correlation']:>12.1e}"
            f"{r['probe_accuracy']:>15.3f}{str(r['converged']):>11}",
            file=out,
        )
    if plot is not None:
        _plot(fitted, y, plot)
        print(f"figure written to {plot}", file=out)
    return rows


def _plot(fitted, y, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    for ax, (name, (_, features)) in zip(axes, fitted.items()):
        ax.scatter(features[:, 0], features[:, 1], c=y, cmap="tab10", s=4)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    est = fitted["CoupledFlowEmbedding"][0]
    labels = ["KL(rho_t || pi)", "||W^T W - I||_F^2", "subspace gap"]
    for j, label in enumerate(labels):
        values = est.lyapunov_[:, j]
        if np.any(values > 0):
            axes[3].semilogy(est.lyapunov_steps_, np.maximum(values, 1e-16), label=label)
    axes[3].set_xlabel("weight update")
    axes[3].set_title("Lyapunov terms")
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class InputError(ValueError):
    """A data file that cannot be read as a numeric matrix."""


def _is_npy(path):
    return os.fspath(path).lower().endswith(".npy")


def read_matrix(path):
    """Read a 2-D numeric array from a ``.npy`` or a CSV file.

    A CSV file may start with a header row: the first row is taken as column
    names when any of its cells is not a number.  Every other row must hold
    the same number of numeric cells.

    Parameters
    ----------
    path : str
        File to read; ``.npy`` (case-insensitive) is loaded with
        :func:`numpy.load` (no pickles), anything else is parsed as CSV.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The samples, as float64.
    columns : list of str or None
        The header's column names, or None when the file has no header.

    Raises
    ------
    InputError
        If the file cannot be read or does not hold a 2-D numeric matrix.
    """
    if _is_npy(path):
        try:
            X = np.load(path, allow_pickle=False)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise InputError(f"{path} is not a readable .npy file: {exc}") from None
        if X.ndim != 2:
            raise InputError(f"{path} holds a {X.ndim}-D array; expected 2-D (samples x features)")
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X):
            raise InputError(f"{path} holds {X.dtype} data; expected real numbers")
        return X.astype(np.float64), None
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            rows = [
                (reader.line_num, row) for row in reader if any(c.strip() for c in row)
            ]
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a UTF-8 text (CSV) file") from None
    except csv.Error as exc:
        raise InputError(f"{path} is not valid CSV: {exc}") from None
    if not rows:
        raise InputError(f"{path} is empty")
    columns = None
    if any(cell.strip() and not _is_number(cell) for cell in rows[0][1]):
        columns = [cell.strip() for cell in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise InputError(f"{path} has a header but no data rows")
    width = len(rows[0][1])
    if columns is not None and len(columns) != width:
        raise InputError(
            f"{path}: the header has {len(columns)} names but line {rows[0][0]} has {width} cells"
        )
    values = np.empty((len(rows), width))
    for i, (line, row) in enumerate(rows):
        if len(row) != width:
            raise InputError(
                f"{path}, line {line}: {len(row)} cells, expected {width} "
                "(every row needs the same number of columns)"
            )
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise InputError(
                    f"{path}, line {line}, column {j + 1}: {cell.strip()!r} is not a number"
                ) from None
    return values, columns


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def write_features(path, features, names):
    """Write features to ``.npy`` or to CSV with a header of feature names.

    Parameters
    ----------
    path : str
        Output file; ``.npy`` writes a NumPy array, any other name a CSV file.
    features : ndarray of shape (n_samples, n_components)
        The features.
    names : array-like of str of shape (n_components,)
        Column names for the CSV header.
    """
    try:
        if _is_npy(path):
            np.save(path, features)
        else:
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(list(names))
                writer.writerows(features.tolist())
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _float_or_keyword(text, keyword, expected, accept, rule):
    """``keyword`` itself, or a float for which ``accept`` holds (``rule``
    says which, in the error)."""
    if text == keyword:
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not accept(value):
        raise argparse.ArgumentTypeError(f"{rule}, got {value}")
    return value


def _n_components(text):
    try:
        count = int(text)
    except ValueError:
        pass
    else:
        if count < 1:
            raise argparse.ArgumentTypeError(f"a count must be at least 1, got {count}")
        return count
    value = _float_or_keyword(text, "all", "a count, a share in (0, 1) or 'all'",
                              lambda v: 0.0 < v < 1.0, "a share must lie in (0, 1)")
    return None if value == "all" else value


def _learning_rate(text):
    return _float_or_keyword(text, "auto", "'auto' or a number",
                             lambda v: 0.0 < v < 1.0, "must lie in (0, 1)")


def _tol(text):
    return _float_or_keyword(text, "auto", "'auto' or a number",
                             lambda v: v >= 0.0, "must be >= 0")


def run_embed(args, out=None, err=None):
    """The ``embed`` subcommand: read, fit, transform, write.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of the ``embed`` subcommand.
    out, err : file-like, default=None
        Where the summary line and the warnings/errors go; None means
        ``sys.stdout`` and ``sys.stderr``.

    Returns
    -------
    status : int
        0 on success, 1 when the input cannot be read or fitted.
    """
    from ._estimator import CoupledFlowEmbedding

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        X, _ = read_matrix(args.input)
        est = CoupledFlowEmbedding(
            n_components=args.n_components,
            manifold=args.manifold,
            rule=args.rule,
            temperature=args.temperature,
            n_neighbors=args.n_neighbors,
            n_walkers=args.n_walkers,
            learning_rate=args.learning_rate,
            max_iter=args.max_iter,
            tol=args.tol,
            solver=args.solver,
            whiten=args.whiten,
            random_state=args.random_state,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # geomstats' import-time ImportWarning is not about the fit.
            warnings.simplefilter("ignore", ImportWarning)
            start = time.perf_counter()
            features = est.fit_transform(X)
            seconds = time.perf_counter() - start
        for w in caught:
            # One line per warning (a ConvergenceWarning, say), no source line.
            print(f"warning: {w.category.__name__}: {w.message}", file=err)
        write_features(args.output, features, est.get_feature_names_out())
    except (ValueError, TypeError) as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=err)
        return 1
    print(
        f"wrote {features.shape[0]} x {features.shape[1]} features to {args.output} "
        f"(fit {seconds:.2f} s, {est.n_iter_} iteration{'s' if est.n_iter_ != 1 else ''}, "
        f"converged={est.converged_})",
        file=out,
    )
    return 0


def _add_embed_parser(sub):
    from ._estimator import CoupledFlowEmbedding
    from .geometry import MANIFOLDS
    from ._hebbian import RULES

    defaults = CoupledFlowEmbedding().get_params()
    embed = sub.add_parser(
        "embed",
        help="fit CoupledFlowEmbedding on a CSV or .npy file and write the features",
        description=(
            "Fit CoupledFlowEmbedding on the samples (rows) of INPUT and write their "
            "features to OUTPUT. Errors on unreadable or non-numeric files are reported "
            "in one line with exit status 1."
        ),
    )
    embed.add_argument(
        "input",
        metavar="INPUT",
        help="samples x features: a .npy file (2-D numeric array) or a CSV file; a CSV "
        "first row with any non-numeric cell is read as a header of column names",
    )
    embed.add_argument(
        "-o", "--output", metavar="OUTPUT", required=True,
        help="where to write the features: .npy for a NumPy array, any other name for "
        "CSV with a header row of feature names (coupledflowembedding0, ...)",
    )
    embed.add_argument(
        "--n-components", type=_n_components, default=defaults["n_components"], metavar="K",
        help="number of features to learn; a number in (0, 1) keeps the fewest whose "
        "share of the variance exceeds it, 'all' keeps min(n_samples, dim) "
        "(default: %(default)s)",
    )
    embed.add_argument(
        "--manifold", choices=MANIFOLDS, default=defaults["manifold"],
        help="where the samples live: euclidean, hypersphere (unit-norm rows), "
        "poincare_ball (rows of norm < 1) or spd (rows of p*p entries of SPD "
        "matrices) (default: %(default)s)",
    )
    embed.add_argument(
        "--temperature", type=float, default=defaults["temperature"], metavar="T",
        help="temperature of the spatial measure q**(1/T): T > 1 flattens it, T < 1 "
        "concentrates it on dense regions, 1 weighs every sample equally (default: %(default)s)",
    )
    embed.add_argument(
        "--rule", choices=RULES, default=defaults["rule"],
        help="Hebbian rule of the slow process: sanger (ordered components), oja "
        "(orthonormal basis of the subspace); hebbian and trace are ablations that "
        "explode or collapse (default: %(default)s)",
    )
    embed.add_argument(
        "--n-neighbors", type=int, default=defaults["n_neighbors"], metavar="N",
        help="neighbours per sample in the walkers' kNN graph (default: %(default)s)",
    )
    embed.add_argument(
        "--n-walkers", type=int, default=defaults["n_walkers"], metavar="N",
        help="number of walkers (the fast process); each weight update averages over "
        "them (default: %(default)s)",
    )
    embed.add_argument(
        "--learning-rate", type=_learning_rate, default=defaults["learning_rate"],
        metavar="ETA", help="step size of the weights in units of 1/lambda_1: 'auto' "
        "(0.2) or a number in (0, 1) (default: %(default)s)",
    )
    embed.add_argument(
        "--solver", choices=["stochastic", "mean_field", "averaged"],
        default=defaults["solver"],
        help="integrator of the coupled flow: walkers, their exact law, or the averaged "
        "flow (fast, for large data) (default: %(default)s)",
    )
    embed.add_argument(
        "--max-iter", type=int, default=defaults["max_iter"], metavar="N",
        help="most weight updates (default: %(default)s)",
    )
    embed.add_argument(
        "--tol", type=_tol, default=defaults["tol"], metavar="RAD",
        help="convergence threshold in radians, or 'auto' (0.03 for the stochastic "
        "solver, 1e-6 for the deterministic ones) (default: %(default)s)",
    )
    embed.add_argument(
        "--random-state", type=int, default=0, metavar="SEED",
        help="seed of the walkers and initial weights; the same seed gives the same "
        "output (default: %(default)s)",
    )
    embed.add_argument(
        "--whiten", action="store_true",
        help="scale each feature to unit variance under the spatial measure",
    )
    return embed


def main(argv=None):
    """Entry point of ``python -m slowfast_sklearn``."""
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
    demo.add_argument("--plot", metavar="FILE", help="write a PNG of the embeddings and Lyapunov terms")
    _add_embed_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.n_components, args.random_state, args.plot)
    elif args.command == "embed":
        return run_embed(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
