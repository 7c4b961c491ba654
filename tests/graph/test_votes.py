"""Class votes summed in a fixed order equal the brute-force sum."""

import torch

from deeplabelprop.graph.votes import class_votes


def test_votes_are_the_sum_per_class():
    g = torch.Generator().manual_seed(0)
    classes = torch.randint(0, 4, (50, 7), generator=g)
    weights = torch.rand(50, 7, generator=g, dtype=torch.float64)
    votes = class_votes(classes, weights, 5)
    brute = torch.zeros(50, 5, dtype=torch.float64)
    for b in range(50):
        for j in range(7):
            brute[b, classes[b, j]] += weights[b, j]
    torch.testing.assert_close(votes, brute, rtol=0, atol=1e-15)
    assert votes.dtype == torch.float64 and torch.all(votes[:, 4] == 0)  # a class with no voter
