"""The demo's figure: each method's first two features and the Lyapunov terms."""

import os
import sys

import numpy as np

from .io import InputError

__all__ = ["demo_figure", "save_figure"]


_FEATURE_UNITS = {
    "PCA": "projection on principal axis {i} (pixel intensity, 0-16 scale)",
    "FastICA": "independent source {i} (unit variance)",
    "CoupledFlowEmbedding": "projection on learned axis {i} (pixel intensity, 0-16 scale)",
}

_PANEL_TITLES = {
    "PCA": "PCA: exact top principal axes",
    "FastICA": "FastICA on PCA-whitened data",
    "CoupledFlowEmbedding": "CoupledFlowEmbedding: walkers + Sanger rule",
}


def _scatter_panel(ax, name, features, y, row):
    import matplotlib.pyplot as plt

    label = _FEATURE_UNITS.get(name, "feature {i}")
    if features.shape[1] > 1:
        ax.scatter(features[:, 0], features[:, 1], c=y, cmap="tab10", vmin=-0.5, vmax=9.5,
                   s=3, linewidths=0)
        ax.set_ylabel(label.format(i=2))
    else:  # one feature: spread the classes along y
        ax.scatter(features[:, 0], y + np.linspace(-0.3, 0.3, y.shape[0]), c=y, cmap="tab10",
                   vmin=-0.5, vmax=9.5, s=3, linewidths=0)
        ax.set_yticks(range(10))
        ax.set_ylabel("digit class")
    ax.set_xlabel(label.format(i=1))
    note = "" if name == "PCA" else f", angle to PCA {row['angle_to_pca']:.1e} rad"
    ax.set_title(f"{_PANEL_TITLES.get(name, name)}\nprobe accuracy "
                 f"{row['probe_accuracy']:.3f}{note}", fontsize=10)
    ax.tick_params(labelsize=8)
    plt.setp(ax.spines.values(), linewidth=0.6)


#: Lyapunov terms (columns of ``lyapunov_``): symbol, name, colour.
_LYAPUNOV_TERMS = [
    (r"$\mathrm{KL}(\rho_t\,\|\,\pi)$", "walkers' law to $\\pi$", "tab:green"),
    (r"$\|W^\top W - I\|_F^2$", "orthogonality defect", "tab:blue"),
    (r"$\Sigma_{i\leq k}\,\lambda_i - \mathrm{tr}(P_W C_\pi)$", "subspace gap", "tab:orange"),
]


def _lyapunov_panel(ax, est):
    steps, terms = est.lyapunov_steps_, est.lyapunov_
    title = "CoupledFlowEmbedding: Lyapunov terms during the fit"
    for j, (symbol, name, colour) in enumerate(_LYAPUNOV_TERMS):
        values = terms[:, j]
        if np.all(values == 0):
            # Nothing to draw on a log scale: say so, and why, on the panel.
            title += f"\n{symbol} = 0 at every checkpoint (not drawn)"
            if j == 0 and getattr(est, "temperature", 1.0) == 1.0:
                title += (": the walkers start on the samples,\nwhose uniform law is $\\pi$ "
                          "at temperature 1")
                lifetime = getattr(est, "walker_lifetime_", None)
                title += f", and are reborn from $\\pi$ every {lifetime} updates" * bool(lifetime)
            continue
        ax.semilogy(steps, np.where(values > 0, values, np.nan), color=colour,
                    label=f"{name} {symbol}", marker="o", markersize=3, linewidth=1.2)
    total = terms.sum(axis=1)
    ax.semilogy(steps, np.where(total > 0, total, np.nan), color="k", linestyle="--",
                linewidth=1, label="sum: the Lyapunov functional")
    ax.set_ylim(top=1e3 * np.nanmax(total))  # room for the legend above the curves
    ax.axvline(est.n_iter_, color="grey", linewidth=0.8, linestyle=":")
    stop = "converged" if est.converged_ else "stopped at max_iter"
    ax.text(est.n_iter_, 0.02, f"{stop} ", transform=ax.get_xaxis_transform(),
            ha="right", va="bottom", fontsize=8, color="grey")
    ax.set_xlabel("weight update (Hebbian step of the slow process)")
    ax.set_ylabel("term value (log scale; coordinates scaled to $\\lambda_1 = 1$)", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7.5, loc="upper right", framealpha=0.9)
    ax.tick_params(labelsize=8)


def demo_figure(fitted, y, rows):
    """The demo's figure: each method's first two features and the Lyapunov terms.

    Parameters
    ----------
    fitted : dict
        Method name -> (fitted estimator, features), as returned by
        :func:`fit_demo`; must hold ``"CoupledFlowEmbedding"``.
    y : ndarray of shape (n_samples,)
        Digit classes, 0-9, for the colours.
    rows : list of dict
        The table rows of :func:`fit_demo` (angle and probe accuracy go in
        the panel titles), in the order of ``fitted``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        A 2 x 2 grid: one scatter panel per method (colour = digit class,
        legend on the right), then the three Lyapunov terms of
        CoupledFlowEmbedding against the weight update, with a note on the
        panel for a term that is identically 0.
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.6), layout="constrained")
    for ax, row, (name, (_, features)) in zip(axes.flat, rows, fitted.items()):
        _scatter_panel(ax, name, features, y, row)
    _lyapunov_panel(axes.flat[3], fitted["CoupledFlowEmbedding"][0])
    cmap = plt.get_cmap("tab10")
    handles = [Line2D([], [], linestyle="", marker="o", color=cmap(c), label=str(c))
               for c in range(10)]
    fig.legend(handles=handles, title="digit\nclass", loc="outside right upper", fontsize=9)
    k = fitted["CoupledFlowEmbedding"][1].shape[1]
    fig.suptitle(
        f"digits ({y.shape[0]} images of 8 x 8 pixels): {k} feature{'s' if k != 1 else ''} "
        f"per method{', first 2 shown' if k > 2 else ''}; colour = digit class",
        fontsize=11,
    )
    return fig


def save_figure(fig, path, dpi=100):
    """Save ``fig``; a PNG goes through a 256-colour palette (a third of the size).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; closed afterwards.
    path : str or path-like
        Target; the format follows the extension (PNG without one).
    dpi : float, default=100
        Resolution: the demo figure is 11 x 8.6 inches.

    Raises
    ------
    InputError
        If the file cannot be written.
    """
    import io

    import matplotlib.pyplot as plt

    try:
        extension = os.path.splitext(os.fspath(path))[1].lower()
        if extension in ("", ".png"):
            from PIL import Image  # a dependency of matplotlib's

            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=dpi)
            image = Image.open(buffer).convert("RGB").quantize(256)
            image.save(path, format="png", optimize=True)
        else:
            fig.savefig(path, dpi=dpi)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
