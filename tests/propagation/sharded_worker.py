"""Run under torchrun by test_sharded.py: build the sharded graph of the features in ARGV[1]
and write this process's rows of 𝒲 with global columns, and the bytes one halo exchange of
a (own rows × 3) float64 block sent, to ARGV[2]/rank<r>.npz."""

import sys
from pathlib import Path

import numpy as np
import torch

from deeplabelprop import distributed
from deeplabelprop.graph import l2_normalize
from deeplabelprop.graph.sharded import sharded_knn_graph

if __name__ == "__main__":
    distributed.init_from_env()
    x = np.load(sys.argv[1], mmap_mode="r")
    n = x.shape[0]
    rows = distributed.shard(n)
    graph = sharded_knn_graph(l2_normalize(np.asarray(x[rows])), n, 10, exact=True)
    v = torch.from_numpy(
        np.random.default_rng(distributed.rank()).random((rows.stop - rows.start, 3))
    )
    before = distributed.SENT["bytes"]
    extended = graph.with_halo(v).numpy()
    sent = distributed.SENT["bytes"] - before
    np.savez(
        Path(sys.argv[2]) / f"rank{distributed.rank()}.npz",
        start=rows.start,
        data=graph.normalized.data,
        indices=graph.normalized.indices,
        indptr=graph.normalized.indptr,
        halo=graph.halo,
        extended=extended,
        own=v.numpy(),
        sent=sent,
        send_rows=sum(len(s) for s in graph.send),
    )
    distributed.shutdown()
