"""scikit-learn's own conformance suite on LabelPropagator (issue 2)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from deeplabelprop import LabelPropagator

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
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
