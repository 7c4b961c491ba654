"""The kept graph (issue 27): prepared once under a fingerprint of the features and the
settings that shape it, saved and loaded exactly, reused for new labels, rebuilt (and said) when
the features or the graph settings change."""

import logging

import numpy as np
import pytest

from deeplabelprop import InputError, Pipeline, propagate
from deeplabelprop.cli import main
from deeplabelprop.propagation import Prepared


def blobs(seed=0, n=400):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    x = (rng.normal(size=(3, 8))[truth] * 3 + rng.normal(size=(n, 8))).astype(np.float32)
    y = np.where(rng.random(n) < 0.1, truth, -1)
    return x, y


@pytest.mark.parametrize("method", ["diffusion", "spectral", "knn-vote", "local", "harmonic"])
def test_a_saved_graph_gives_the_same_result_as_a_fresh_one(tmp_path, method):
    x, y = blobs()
    params = {"eigen_method": "dense", "n_components": 20} if method == "spectral" else {}
    pipeline = Pipeline(method, params=params)
    graph = pipeline.prepare(x)
    graph.save(tmp_path / "g.npz")
    kept = Prepared.load(tmp_path / "g.npz")
    assert kept.fingerprint == graph.fingerprint and kept.n_samples == len(x)
    a = pipeline.run(x, y)
    b = pipeline.run(x, y, graph=kept)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-12)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-12)


def test_new_labels_reuse_the_file_and_other_features_rebuild_it(tmp_path, caplog):
    x, y = blobs()
    path = tmp_path / "graph.npz"
    first = propagate(x, y, graph=path)
    assert path.is_file() and "graph" in first.timings
    y2 = y.copy()
    y2[np.flatnonzero(y < 0)[:10]] = 0
    with caplog.at_level(logging.INFO, logger="deeplabelprop"):
        second = propagate(x, y2, graph=path)
    assert any("graph: kept" in r.message for r in caplog.records)
    assert "graph" not in second.timings  # no graph was built
    np.testing.assert_array_equal(second.labels, propagate(x, y2).labels)
    # a solve-only parameter (α) keeps the graph; a graph parameter (k) rebuilds it
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deeplabelprop"):
        propagate(x, y, graph=path, alpha=0.9)
        assert any("graph: kept" in r.message for r in caplog.records)
        propagate(x, y, graph=path, n_neighbors=7)
    assert any("rebuilding" in r.message for r in caplog.records)
    # features of the same shape, other values: rebuilt, never reused
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deeplabelprop"):
        propagate(x + 1.0, y, graph=path)
    assert any("rebuilding" in r.message for r in caplog.records)
    # a Prepared of other features is refused
    graph = Pipeline().prepare(x)
    with pytest.raises(InputError, match="built from other features"):
        Pipeline().run(x[::-1].copy(), y, graph=graph)


def test_the_cli_keeps_the_graph(tmp_path, capsys):
    x, y = blobs()
    np.save(tmp_path / "f.npy", x)
    np.save(tmp_path / "y.npy", y)
    args = ["propagate", str(tmp_path / "f.npy"), str(tmp_path / "y.npy"), "--graph"]
    assert main([*args, str(tmp_path / "g.npz"), "-o", str(tmp_path / "a.npz")]) == 0
    first = capsys.readouterr().out.splitlines()[0]  # "stage times: ..."
    assert main([*args, str(tmp_path / "g.npz"), "-o", str(tmp_path / "b.npz")]) == 0
    second = capsys.readouterr().out.splitlines()[0]
    assert "graph" in first and "graph" not in second  # the second run built no graph
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(a["labels"], b["labels"])
