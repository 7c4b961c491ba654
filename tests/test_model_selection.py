"""The estimator in model selection, its label markers, the CLI and the estimator agreeing on
small data, and every degenerate-input warning triggered by its input (issue 18)."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deeplabelprop import InputError, LabelPropagator, propagate
from deeplabelprop.cli import main
from deeplabelprop.errors import DataWarning


def masked_accuracy(y_true, y_pred):
    known = y_true != -1
    return float(np.mean(y_true[known] == y_pred[known]))


def test_grid_search_default_scorer_ignores_unlabeled_rows(blobs):
    x, truth, _ = blobs
    rng = np.random.default_rng(0)
    y = np.where(rng.random(len(truth)) < 0.2, truth, -1)
    grid = {"labelpropagator__n_neighbors": [2, 5, 40]}
    pipe = make_pipeline(StandardScaler(), LabelPropagator(calibration="none"))
    default = GridSearchCV(pipe, grid, cv=3).fit(x, y)
    masked = GridSearchCV(pipe, grid, cv=3, scoring=make_scorer(masked_accuracy)).fit(x, y)
    assert default.best_params_ == masked.best_params_
    np.testing.assert_allclose(
        default.cv_results_["mean_test_score"], masked.cv_results_["mean_test_score"]
    )
    assert default.best_score_ > 0.9  # a real accuracy, not one where -1 counts as a class


def test_markers_nan_empty_string_and_refusal(blobs):
    x, truth, labels = blobs
    names = np.array(["ant", "bee", "cow"])
    y = np.where(labels >= 0, names[np.clip(labels, 0, 2)], "")
    with pytest.raises(InputError, match="some are '', which would become a class; .*unlabeled=''"):
        LabelPropagator().fit(x, y)
    by_blank = LabelPropagator(unlabeled="").fit(x, y)
    assert (
        list(by_blank.classes_) == ["ant", "bee", "cow"]
        and (by_blank.transduction_ == names[truth]).mean() > 0.95
    )
    y_nan = np.where(labels >= 0, labels, np.nan).astype(float)
    by_nan = LabelPropagator(unlabeled=np.nan).fit(x, y_nan)
    assert by_nan.classes_.tolist() == [0.0, 1.0, 2.0]
    np.testing.assert_array_equal(by_nan.transduction_.astype(int), by_blank.result_.labels)


def test_a_parameter_a_method_does_not_take_names_the_ones_that_do(blobs):
    x, _, labels = blobs
    with pytest.raises(
        InputError,
        match="method 'knn-vote' does not take n_neighbors \\((diffusion, harmonic, spectral) take it\\)",
    ):
        LabelPropagator(method="knn-vote", n_neighbors=5).fit(x, labels)


def test_cli_and_estimator_agree_on_small_data(tmp_path, capsys):
    """spectral's η = 200 on 150 rows and k = 10 on 4 points: both adapt the defaults alike."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 0.3, (75, 4)) + 2, rng.normal(0, 0.3, (75, 4)) - 2].astype(np.float32)
    y = np.full(150, -1)
    y[[0, 1, 75, 76]] = [0, 0, 1, 1]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    for method, xs, ys in (
        ("spectral", x, y),
        ("diffusion", x[[0, 1, 75, 76]], np.array([0, -1, 1, -1])),
    ):
        np.save(tmp_path / "xs.npy", xs)
        np.save(tmp_path / "ys.npy", ys)
        out = tmp_path / f"{method}.npz"
        assert (
            main(
                [
                    "propagate",
                    str(tmp_path / "xs.npy"),
                    str(tmp_path / "ys.npy"),
                    "-m",
                    method,
                    "-o",
                    str(out),
                    "-q",
                ]
            )
            == 0
        )
        est = LabelPropagator(method=method).fit(xs, ys)
        z = np.load(out)
        np.testing.assert_array_equal(z["labels"], est.result_.labels)
        np.testing.assert_allclose(z["confidence"], est.confidence_)
    capsys.readouterr()
    assert (
        main(
            [
                "propagate",
                str(tmp_path / "x.npy"),
                str(tmp_path / "y.npy"),
                "--k",
                "150",
                "-o",
                str(tmp_path / "o.npz"),
            ]
        )
        == 2
    )
    assert (
        "n_neighbors=150 (neighbours k) must be smaller than the number of samples (150)"
        in capsys.readouterr().err
    )


def test_one_labeled_class_warns(blobs):
    x, _, labels = blobs
    with pytest.warns(DataWarning, match="only one class is labeled"):
        propagate(x, np.where(labels == 0, 0, -1), calibration="none")


def test_identical_features_warn():
    x = np.ones((20, 3), np.float32)
    y = np.full(20, -1)
    y[[0, 1]] = [0, 1]
    with pytest.warns(DataWarning, match="all 20 feature rows point the same way"):
        propagate(x, y, method="knn-vote", calibration="none")


def test_a_class_without_pseudo_labels_warns_and_the_summary_says_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype(np.float32) + np.array([5, 0, 0])
    x[59] = [-5, 0.1, 0]  # a far point labeled class 1: its label reaches no unlabeled point
    y = np.full(60, -1)
    y[[0, 59]] = [0, 1]
    with pytest.warns(DataWarning, match=r"1 class\(es\) \(index 1\) receive no pseudo label"):
        propagate(x, y, method="knn-vote", calibration="none")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        assert (
            main(
                [
                    "propagate",
                    str(tmp_path / "x.npy"),
                    str(tmp_path / "y.npy"),
                    "-m",
                    "knn-vote",
                    "-o",
                    str(tmp_path / "p.npz"),
                ]
            )
            == 0
        )
    out = capsys.readouterr().out
    assert "nan" not in out and "       1        0         -" in out


def test_low_recall_search_visits_more_lists_until_the_recall_is_reached(caplog):
    """Random 64-d points are hard for an IVF index: the automatic choice measures the recall
    on a sample, visits more lists until it reaches 95 %, and says so; the graph's own
    measured recall (other queries) agrees, without a warning or an exact search."""
    import warnings

    from deeplabelprop.graph import knn_graph

    x = np.random.default_rng(0).normal(size=(21000, 64)).astype(np.float32)
    with warnings.catch_warnings(), caplog.at_level("INFO", logger="deeplabelprop"):
        warnings.simplefilter("error", DataWarning)
        graph = knn_graph(x, 30)
    assert 0.95 <= graph.knn_recall < 1.0
    said = [r.message for r in caplog.records if "IVF nprobe" in r.message]
    assert len(said) > 1 and float(said[0].split()[4]) < 0.95 <= float(said[-1].split()[4])
