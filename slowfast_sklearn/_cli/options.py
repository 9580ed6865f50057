"""``embed``'s options, read off the estimator's parameters and their constraints.

Every parameter of :class:`~slowfast_sklearn.CoupledFlowEmbedding` that a
command-line word can spell is an option: its choices and value types come
from ``_parameter_constraints`` (a new solver shows up by itself), its
default from ``get_params``.
"""

import argparse

__all__ = ["embed_options"]


_HELP = {
    "n_components": "number of features to learn; a number in (0, 1) keeps the fewest whose "
    "share of the variance exceeds it, 'all' keeps min(n_samples, dim)",
    "manifold": "where the samples live: euclidean, hypersphere (unit-norm rows), "
    "poincare_ball (rows of norm < 1) or spd (rows of p*p entries of SPD matrices)",
    "kernel": "fast process: graph (Metropolised walk on the kNN graph of the samples, exact "
    "stationary law) or langevin (Riemannian Langevin walkers on a kernel density; use a few "
    "hundred walkers)",
    "rule": "Hebbian rule of the slow process: sanger (ordered components), oja (orthonormal "
    "basis of the subspace); hebbian and trace are ablations that explode or collapse",
    "temperature": "temperature of the spatial measure q**(1/T): T > 1 flattens it, T < 1 "
    "concentrates it on dense regions, 1 weighs every sample equally",
    "n_neighbors": "neighbours per sample in the walkers' kNN graph",
    "n_walkers": "number of walkers (the fast process), or 'auto' (one per sample for the "
    "default solver, 2048 otherwise); each weight update averages over them",
    "walk_steps": "walker moves per weight update (the time-scale separation)",
    "walker_lifetime": "weight updates after which all walkers are reborn from the stationary "
    "measure: 'auto' (2 for the default solver, 10 for stochastic), a number, or 'none' to "
    "keep them for the whole run (the paper's pure flow)",
    "learning_rate": "step size of the weights in units of 1/lambda_1: 'auto' (0.5 for the "
    "default solver, 0.2 otherwise) or a number in (0, 1)",
    "solver": "integrator of the coupled flow: auto (the default: variance_reduced for the "
    "sanger and oja rules on the graph, stochastic otherwise), variance_reduced (walkers "
    "anchored at exact products with the second moment), stochastic (the flow's own walkers), "
    "mean_field (their exact law) or averaged (the averaged flow: deterministic, no walkers)",
    "max_iter": "most weight updates (iterations for the averaged solver)",
    "tol": "convergence threshold, or 'auto': the captured-variance deficit for "
    "variance_reduced (1e-3; the angle bound across well-separated gaps must be below its "
    "square root), an angle in radians for the others (0.03 for stochastic, 1e-6 for the "
    "deterministic ones)",
    "whiten": "scale each feature to unit variance under the spatial measure",
    "random_state": "seed of the walkers and initial weights; the same seed gives the same "
    "output; 'none' draws a fresh one",
    "verbose": "progress: N > 0 prints one line per checkpoint of the fit to standard output",
}
_METAVARS = {"n_components": "K", "temperature": "T", "learning_rate": "ETA", "tol": "TOL",
             "random_state": "SEED", "walker_lifetime": "UPDATES", "verbose": "N"}
#: How the command line spells None, where a parameter accepts it.
_NONE_WORDS = {"n_components": "all"}
#: Command-line defaults that differ from the estimator's: reproducible by default.
_CLI_DEFAULTS = {"random_state": 0}


def _flat_constraints(constraints):
    """sklearn constraint objects, composite ones (random_state, verbose) unpacked."""
    from sklearn.utils._param_validation import make_constraint

    flat = []
    for constraint in constraints:
        constraint = make_constraint(constraint)
        flat.extend(getattr(constraint, "_constraints", [constraint]))
    return flat


def _value_type(name, words, intervals, none_word):
    """An argparse ``type``: a command-line word to a value the estimator accepts."""
    from numbers import Integral

    expected = [str(c) for c in intervals] + [repr(w) for w in sorted(words)]
    expected += [repr(none_word)] if none_word else []
    expected = ", ".join(expected[:-1]) + " or " * (len(expected) > 1) + expected[-1]

    def parse(text):
        if text in words:
            return text
        if none_word is not None and text == none_word:
            return None
        for interval in sorted(intervals, key=lambda c: c.type is not Integral):
            try:
                value = int(text) if interval.type is Integral else float(text)
            except ValueError:
                continue
            if interval.is_satisfied_by(value):
                return value
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")

    parse.__name__ = name  # argparse names the option's type in its errors
    return parse


def _option_spec(name, constraints, default):
    """(flag, ``add_argument`` keywords) for one parameter, or None if no
    command-line word can spell it (a geomstats space object, say)."""
    from sklearn.utils._param_validation import Interval, StrOptions

    flat = _flat_constraints(constraints)
    words = set().union(*[c.options - c.deprecated for c in flat if isinstance(c, StrOptions)])
    intervals = [c for c in flat if isinstance(c, Interval)]
    takes_none = any(c.is_satisfied_by(None) for c in flat)
    none_word = _NONE_WORDS.get(name, "none") if takes_none else None
    shown = none_word if default is None else default
    spec = {"default": default, "help": _HELP.get(name, f"the estimator's {name} parameter")}
    if words and not intervals and not takes_none:
        # default first, then the others: a new option shows up here.
        spec["choices"] = sorted(words, key=lambda w: (w != default, w))
    elif words or intervals:
        spec["type"] = _value_type(name, words, intervals, none_word)
        spec["metavar"] = _METAVARS.get(name, "N" if not words else name.upper())
    elif any(c.is_satisfied_by(True) for c in flat):
        # A switch that turns the default over: --whiten, or --no-<name>.
        flag = ("--" if default is False else "--no-") + name.replace("_", "-")
        return flag, {**spec, "action": "store_false" if default else "store_true"}
    else:
        return None
    spec["help"] += f" (default: {shown})"
    return "--" + name.replace("_", "-"), spec


def embed_options():
    """(parameter name, flag, add_argument keywords) for each parameter the
    command line can spell, in the order of the estimator's signature."""
    import inspect

    from slowfast_sklearn import CoupledFlowEmbedding

    defaults = CoupledFlowEmbedding().get_params()
    defaults.update(_CLI_DEFAULTS)
    constraints = CoupledFlowEmbedding._parameter_constraints
    order = list(inspect.signature(CoupledFlowEmbedding).parameters)
    options = []
    for name in sorted(defaults, key=lambda n: order.index(n) if n in order else len(order)):
        spec = _option_spec(name, constraints.get(name, []), defaults[name])
        if spec is not None:
            options.append((name, *spec))
    return options
