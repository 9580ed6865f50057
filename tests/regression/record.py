"""Regression record: every fitted array of a fixed set of fits, for refactors.

``python tests/regression/record.py record OUT.npz`` fits a fixed grid of
configurations (each valid solver x kernel x manifold, two temperatures,
float32 and float64, two seeds, plus the special paths: rules, float and
None ``n_components``, walkers reading rows off ``X``, many features,
extreme scales, constant features, ``partial_fit`` alone and after ``fit``)
and saves every fitted array, the running sums ``partial_fit`` continues
from, the outputs of ``transform``, ``inverse_transform``, ``score_samples``
and ``get_covariance``, the warnings and errors raised and the verbose
output, as one ``.npz``.

``python tests/regression/record.py compare BEFORE.npz AFTER.npz`` lists
the entries that are not bit for bit the same, with their largest absolute
and relative differences.

BLAS runs on one thread, so that two runs of the same code on the same
machine give the same bits.  Not part of the test suite: it takes about a
minute and its output is a file to compare, not a verdict.
"""

import argparse
import contextlib
import io
import sys
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import slowfast_sklearn
from slowfast_sklearn import CoupledFlowEmbedding

#: Stochastic runs: small budgets (the record is about arithmetic, not convergence).
WALKERS = dict(n_walkers=128, max_iter=150)
SEEDS = (0, 1)
TEMPERATURES = (1.0, 0.7)
DTYPES = (np.float64, np.float32)
SOLVER_KERNELS = (
    ("stochastic", "graph"),
    ("stochastic", "langevin"),
    ("mean_field", "graph"),
    ("mean_field", "langevin"),  # an error: recorded as such
    ("averaged", "graph"),
    ("averaged", "langevin"),
)
FITTED = (
    "components_", "mean_", "n_components_", "n_samples_seen_", "explained_variance_",
    "explained_variance_ratio_", "noise_variance_", "stationary_measure_", "weights_",
    "lyapunov_", "lyapunov_steps_", "n_iter_", "converged_", "n_features_in_",
)
STREAM = ("reference", "count", "sum", "weight", "wsum", "wscatter")


def _rotation(d, rng):
    return np.linalg.qr(rng.standard_normal((d, d)))[0]


def flat_data(n=150, d=5, seed=0, offset=3.0):
    rng = np.random.default_rng(100 + seed)
    scales = np.array([3.0, 2.0, 1.0, 0.6, 0.4, 0.3, 0.2, 0.1])[:d] if d <= 8 else (
        0.97 ** np.arange(d) + 0.05)
    return (rng.standard_normal((n, d)) * scales) @ _rotation(d, rng).T + offset


def sphere_data(n=150, seed=0):
    rng = np.random.default_rng(200 + seed)
    V = rng.standard_normal((n, 5)) * [0.4, 0.2, 0.08, 0.05, 0.0]
    X = V + [0.0, 0.0, 0.0, 0.0, 1.0]
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def ball_data(n=150, seed=0):
    rng = np.random.default_rng(300 + seed)
    V = rng.standard_normal((n, 4)) * [0.5, 0.25, 0.08, 0.05]
    X = 0.3 * V / (1.0 + np.linalg.norm(V, axis=1, keepdims=True)) + [0.2, -0.1, 0.05, 0.0]
    return X


def spd_data(n=120, seed=0):
    rng = np.random.default_rng(400 + seed)
    G = rng.standard_normal((n, 3, 3)) * 0.3
    S = 0.5 * (G + np.swapaxes(G, 1, 2))
    w, U = np.linalg.eigh(S)
    base = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]])
    E = (U * np.exp(w)[:, None, :]) @ np.swapaxes(U, 1, 2)
    bw, bU = np.linalg.eigh(base)
    half = (bU * np.sqrt(bw)) @ bU.T
    return half @ E @ half


DATA = {"euclidean": flat_data, "hypersphere": sphere_data, "poincare_ball": ball_data,
        "spd": spd_data}


@contextlib.contextmanager
def rows_off_X():
    """Force the walkers to read flat data's rows off X at any size."""
    from slowfast_sklearn import _prepare as owner

    saved = owner.ON_DEMAND_BYTES
    owner.ON_DEMAND_BYTES = 0
    try:
        yield
    finally:
        owner.ON_DEMAND_BYTES = saved


def _state(est, X, out, key):
    for name in FITTED:
        if hasattr(est, name):
            out[f"{key}/{name}"] = np.asarray(getattr(est, name))
    for name in STREAM:
        if hasattr(est, f"_stream_{name}"):
            out[f"{key}/stream_{name}"] = np.asarray(getattr(est, f"_stream_{name}"))
    if not hasattr(est, "components_"):
        return
    features = est.transform(X)
    out[f"{key}/transform"] = features
    out[f"{key}/inverse_transform"] = est.inverse_transform(features)
    out[f"{key}/get_covariance"] = est.get_covariance()
    with np.errstate(all="ignore"):
        out[f"{key}/score_samples"] = est.score_samples(X)


def _run(key, out, action):
    """Run ``action`` (which returns (estimator, X)), keeping its warnings,
    error and printed output next to its arrays."""
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ImportWarning)
        try:
            est, X = action()
        except (ValueError, TypeError) as exc:
            out[f"{key}/error"] = np.array(f"{type(exc).__name__}: {exc}")
            est = X = None
    out[f"{key}/warnings"] = np.array(
        [f"{w.category.__name__}: {w.message}" for w in caught] or [""]
    )
    out[f"{key}/stdout"] = np.array(printed.getvalue())
    if est is not None:
        _state(est, X, out, key)


def _fit(X, **params):
    return lambda: (CoupledFlowEmbedding(**params).fit(X), X)


def configurations():
    """(key, action) for every fit of the record, in a fixed order."""
    for manifold, make in DATA.items():
        for solver, kernel in SOLVER_KERNELS:
            for temperature in TEMPERATURES:
                for dtype in DTYPES:
                    for seed in SEEDS:
                        X = make(seed=seed).astype(dtype)
                        extra = WALKERS if solver == "stochastic" else {}
                        key = f"{manifold}-{solver}-{kernel}-T{temperature}-{dtype.__name__}-s{seed}"
                        yield key, _fit(X, n_components=2, manifold=manifold, solver=solver,
                                        kernel=kernel, temperature=temperature,
                                        random_state=seed, **extra)
    X = flat_data()
    for rule in ("oja", "hebbian", "trace"):
        for solver in ("stochastic", "mean_field"):
            extra = WALKERS if solver == "stochastic" else dict(max_iter=400)
            yield f"rule-{rule}-{solver}", _fit(X, n_components=2, rule=rule, solver=solver,
                                                random_state=0, **extra)
    for solver in ("stochastic", "mean_field", "averaged"):
        extra = WALKERS if solver == "stochastic" else {}
        for n_components in (None, 0.8):
            for temperature in TEMPERATURES:
                yield (f"k{n_components}-{solver}-T{temperature}",
                       _fit(X, n_components=n_components, solver=solver,
                            temperature=temperature, random_state=0, **extra))
        yield f"whiten-{solver}", _fit(X, n_components=3, whiten=True, solver=solver,
                                       random_state=0, verbose=1, **extra)
    for dtype in DTYPES:
        for offset in (3.0, 1e5):
            Xo = flat_data(n=200, offset=offset).astype(dtype)
            Xo[:, 2] = Xo[0, 2]

            def on_demand(Xo=Xo):
                with rows_off_X():
                    return CoupledFlowEmbedding(2, random_state=0, **WALKERS).fit(Xo), Xo

            yield f"rows-off-X-{dtype.__name__}-{offset:g}", on_demand
    wide = flat_data(n=300, d=260)
    for solver in ("stochastic", "mean_field", "averaged"):
        extra = WALKERS if solver == "stochastic" else dict(max_iter=200)
        yield f"wide-{solver}", _fit(wide, n_components=3, solver=solver, random_state=0,
                                     temperature=0.8, **extra)
    for log2 in (-1000, -600, 500):
        Xs = np.ldexp(flat_data(), log2)
        for solver in ("stochastic", "averaged"):
            extra = WALKERS if solver == "stochastic" else {}
            yield f"scale{log2}-{solver}", _fit(Xs, n_components=2, solver=solver,
                                                random_state=0, **extra)
    for scale in (1e-300, 1e150):
        yield f"float-range{scale:g}-averaged", _fit(flat_data() * scale, n_components=2,
                                                      solver="averaged")
    for kernel in ("graph", "langevin"):
        yield f"converging-stochastic-{kernel}", _fit(X, n_components=2, kernel=kernel,
                                                      n_walkers=256, max_iter=1500,
                                                      random_state=0)
    Xc = flat_data()
    Xc[:, [1, 3]] = [3.0, -2.0]
    for solver in ("stochastic", "mean_field", "averaged"):
        extra = WALKERS if solver == "stochastic" else {}
        yield f"constant-{solver}", _fit(Xc, n_components=4, solver=solver, random_state=0,
                                         **extra)
    yield from _streams()


def _streams():
    X = flat_data(n=300, seed=3) + 1e3
    for temperature in TEMPERATURES:
        for dtype in DTYPES:
            def stream(temperature=temperature, dtype=dtype):
                est = CoupledFlowEmbedding(2, temperature=temperature, random_state=0)
                Xd = X.astype(dtype)
                for start in range(0, 300, 100):
                    est.partial_fit(Xd[start:start + 100])
                return est, Xd

            yield f"partial_fit-T{temperature}-{dtype.__name__}", stream

            def short(temperature=temperature, dtype=dtype):
                est = CoupledFlowEmbedding(2, temperature=temperature, max_iter=1,
                                           random_state=0)
                Xd = flat_data(n=300, d=40, seed=5).astype(dtype)
                return est.partial_fit(Xd), Xd

            yield f"partial_fit-short-T{temperature}-{dtype.__name__}", short
            for solver in ("stochastic", "mean_field", "averaged"):
                def after(temperature=temperature, dtype=dtype, solver=solver):
                    extra = WALKERS if solver == "stochastic" else {}
                    Xd = X.astype(dtype)
                    est = CoupledFlowEmbedding(2, solver=solver, temperature=temperature,
                                               random_state=0, **extra).fit(Xd[:200])
                    return est.partial_fit(Xd[200:]), Xd

                yield f"fit-then-partial_fit-{solver}-T{temperature}-{dtype.__name__}", after


def record(path):
    out = {}
    with threadpool_limits(1):
        for key, action in configurations():
            _run(key, out, action)
    np.savez_compressed(path, **out)
    print(f"{len(out)} entries from slowfast_sklearn {slowfast_sklearn.__version__} -> {path}")


def _differences(a, b):
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
        return f"shape/dtype {a.shape} {a.dtype} -> {b.shape} {b.dtype}"
    if a.dtype.kind in "US":
        return None if np.array_equal(a, b) else f"text {a!r} -> {b!r}"
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} -> {b.dtype}"
    if np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
        return None
    x, y = a.astype(np.float64), b.astype(np.float64)
    diff = np.abs(x - y)
    scale = max(float(np.nanmax(np.abs(x))) if x.size else 0.0, np.finfo(np.float64).tiny)
    return f"max |diff| {np.nanmax(diff):.3g}, relative to max |value| {np.nanmax(diff) / scale:.3g}"


def compare(before, after):
    A, B = np.load(before), np.load(after)
    keys_a, keys_b = set(A.files), set(B.files)
    for key in sorted(keys_a ^ keys_b):
        print(f"only in {'before' if key in keys_a else 'after'}: {key}")
    same = 0
    for key in sorted(keys_a & keys_b):
        message = _differences(A[key], B[key])
        if message is None:
            same += 1
        else:
            print(f"{key}: {message}")
    print(f"{same} of {len(keys_a & keys_b)} common entries bit for bit identical; "
          f"{len(keys_a ^ keys_b)} entries in one record only")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("record").add_argument("output")
    cmp = sub.add_parser("compare")
    cmp.add_argument("before")
    cmp.add_argument("after")
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.output)
    else:
        compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
