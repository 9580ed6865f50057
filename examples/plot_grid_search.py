"""
=====================================================================
Tuning CoupledFlowEmbedding in a Pipeline with GridSearchCV
=====================================================================

:class:`~slowfast_sklearn.CoupledFlowEmbedding` is an ordinary scikit-learn
transformer: it clones, pickles, sits in a
:class:`~sklearn.pipeline.Pipeline`, and every constructor argument can be
searched by :class:`~sklearn.model_selection.GridSearchCV`.  Here a pipeline
standardises the bundled wine data (178 wines, 13 chemical measurements,
3 cultivars), embeds it and classifies the embedding with a logistic
regression; the grid search chooses the number of components, the
temperature of the spatial measure and the learning rate of the Hebbian
weights by 3-fold cross-validation.  With ``set_output(transform="pandas")``
every step passes a :class:`pandas.DataFrame` with named columns to the
next, and the fitted embedding returns one.
"""

# %%
# The pipeline and the grid
# -------------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from slowfast_sklearn import CoupledFlowEmbedding

X, y = load_wine(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

pipeline = Pipeline(
    [
        ("scale", StandardScaler()),
        # Half the default budget of weight updates: enough on this small,
        # well-separated data (a fit that needs more warns).
        ("embed", CoupledFlowEmbedding(max_iter=3000, random_state=0)),
        ("classify", LogisticRegression(max_iter=2000)),
    ]
).set_output(transform="pandas")
grid = {
    "embed__n_components": [1, 2, 3],
    "embed__temperature": [0.5, 1.0],
    "embed__learning_rate": [0.1, 0.3],
}

# %%
# Two jobs run the 36 fits in parallel.  The estimator pickles (its fitted
# state is arrays only), so joblib can ship it to worker processes; a fixed
# ``random_state`` makes every fit reproducible.
search = GridSearchCV(pipeline, grid, cv=3, n_jobs=2)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.3f}")
print(f"held-out accuracy of the refitted pipeline: {search.score(X_test, y_test):.3f}")

# %%
# The cross-validation results
# ----------------------------
# Mean accuracy over the folds, for each number of components and
# temperature, one panel per learning rate.  One component is too few to
# separate three cultivars; from two on the classes separate.  The learning
# rate changes how fast the weights settle, not where they settle, so the
# two panels agree; the temperature reweights the samples that the subspace
# is learned from.
results = pd.DataFrame(search.cv_results_)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True, layout="constrained")
for ax, rate in zip(axes, grid["embed__learning_rate"]):
    table = results[results["param_embed__learning_rate"] == rate].pivot_table(
        index="param_embed__temperature",
        columns="param_embed__n_components",
        values="mean_test_score",
    )
    image = ax.imshow(table.to_numpy(), vmin=0.8, vmax=1.0, cmap="viridis")
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="w")
    ax.set_xticks(range(table.shape[1]), table.columns)
    ax.set_yticks(range(table.shape[0]), table.index)
    ax.set_xlabel("n_components")
    ax.set_title(f"learning_rate={rate}")
axes[0].set_ylabel("temperature")
fig.colorbar(image, ax=axes, label="mean CV accuracy")
plt.show()

# %%
# Named pandas output
# -------------------
# The pipeline was configured with ``set_output(transform="pandas")`` (the
# setting is cloned with it into every fit), so its transforming steps return
# a DataFrame that keeps the index of the input and names the features
# ``coupledflowembedding0``, ``coupledflowembedding1``, ...
# (:meth:`~slowfast_sklearn.CoupledFlowEmbedding.get_feature_names_out`).
# The embedding also remembers the names of the columns it was fitted on.
embedder = search.best_estimator_[:-1]
features = embedder.transform(X_test)
print("fitted on:", list(embedder["embed"].feature_names_in_[:4]), "...")
print(type(features).__name__, features.shape)
print(features.head())

fig, ax = plt.subplots(figsize=(5.5, 4.5))
columns = features.columns
if len(columns) == 1:
    ax.scatter(features[columns[0]], y_test, c=y_test, cmap="viridis")
    ax.set_ylabel("cultivar")
else:
    scatter = ax.scatter(features[columns[0]], features[columns[1]], c=y_test, cmap="viridis")
    ax.legend(*scatter.legend_elements(), title="cultivar", fontsize=8)
    ax.set_ylabel(columns[1])
ax.set_xlabel(columns[0])
ax.set_title("Held-out wines in the best embedding")
plt.show()
