"""scikit-learn's own conformance suite on LabelPropagator (issue 2)."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from deeplabelprop import LabelPropagator

# scikit-learn's checks feed degenerate data on purpose (tiny, one class, constant columns):
# the DataWarnings they raise are the intended behaviour, checked in test_model_selection.py
pytestmark = pytest.mark.filterwarnings("ignore::deeplabelprop.errors.DataWarning")

# Checks that cannot pass by design, each with its reason.
EXPECTED_FAILED = {
    "check_classifiers_classes": (
        "uses -1 as a class label; -1 is the semi-supervised convention for 'unlabeled' "
        "(scikit-learn's LabelSpreading has the same convention). Set unlabeled= to another "
        "marker to use -1 as a class."
    ),
}


@parametrize_with_checks(
    [
        LabelPropagator(),
        LabelPropagator(method="knn-vote"),
        LabelPropagator(method="local"),
        LabelPropagator(method="spectral"),
        LabelPropagator(method="harmonic"),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
