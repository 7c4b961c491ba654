"""LabelPropagator in user workflows: strings, Pipeline, GridSearchCV, inductive predict (issue 2)."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deeplabelprop import InputError, LabelPropagator


def test_string_labels_and_fitted_attributes(blobs):
    x, truth, labels = blobs
    names = np.array(["ant", "bee", "cow"], dtype=object)
    y = np.where(labels >= 0, names[labels.clip(0)], -1).astype(object)
    est = LabelPropagator(n_neighbors=10).fit(x, y)
    assert est.classes_.tolist() == ["ant", "bee", "cow"]
    assert (est.transduction_ == names[truth]).mean() > 0.95
    np.testing.assert_allclose(est.label_distributions_.sum(1), 1.0)
    assert est.confidence_.shape == (300,) and est.n_iter_ >= 1
    est2 = LabelPropagator(n_neighbors=10, unlabeled="?").fit(
        x, np.where(labels >= 0, names[labels.clip(0)], "?")
    )
    np.testing.assert_array_equal(est2.transduction_, est.transduction_)


def test_inductive_predict_on_new_points(blobs):
    x, truth, labels = blobs
    est = LabelPropagator(
        method="spectral", n_neighbors=10, method_params={"n_components": 20}
    ).fit(x[:250], labels[:250])
    assert (est.predict(x[250:]) == truth[250:]).mean() > 0.95
    proba = est.predict_proba(x[250:])
    np.testing.assert_allclose(proba.sum(1), 1.0)
    # each new point through its neighbours among the fitted points: a brute-force check
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = xn[250:] @ xn[:250].T
    nn = np.argsort(-s, axis=1)[:, :10]
    w = np.clip(np.take_along_axis(s, nn, 1), 0, None) ** 3
    expected = np.einsum("mk,mkc->mc", w, est.label_distributions_[nn]) / w.sum(1, keepdims=True)
    np.testing.assert_allclose(proba, expected, atol=1e-5)


def test_pipeline_and_grid_search(blobs):
    x, truth, labels = blobs
    pipe = make_pipeline(StandardScaler(), PCA(4), LabelPropagator())
    pipe.fit(x, labels)
    assert (pipe.predict(x) == truth).mean() > 0.95
    # GridSearchCV scores on held-out folds; score() needs true labels, so fit on full labels
    grid = GridSearchCV(
        LabelPropagator(), {"n_neighbors": [5, 10], "alpha": [0.9, 0.99]}, cv=3, error_score="raise"
    )
    grid.fit(x, truth)
    assert grid.best_score_ > 0.95 and set(grid.best_params_) == {"n_neighbors", "alpha"}


def test_explicit_parameters_are_checked(blobs):
    x, _, labels = blobs
    with pytest.raises(InputError, match="must be smaller than the number of samples"):
        LabelPropagator(n_neighbors=300).fit(x, labels)
    with pytest.raises(InputError, match="does not take n_neighbors"):
        LabelPropagator(method="knn-vote", n_neighbors=5).fit(x, labels)
    with pytest.raises(InputError, match="unknown method"):
        LabelPropagator(method="magic").fit(x, labels)
    with pytest.raises(InputError, match="alpha"):
        LabelPropagator(alpha=1.0).fit(x, labels)
    with pytest.raises(InputError, match="no labeled point"):
        LabelPropagator().fit(x, np.full(len(x), -1))
