"""The kNN graph over rows sharded by process (``torchrun ... propagate``): each process holds
its own rows of X and of 𝒲 and never the whole of either.

* **Search.** Each process indexes its own rows with faiss (exact, or an IVF tuned to the
  recall target on its shard, as :func:`~deeplabelprop.graph.knn.knn` plans for the total size).
  Queries travel in blocks: every process's block is gathered, searched against each index,
  and each process gets back the k + 1 best of every shard for its own queries and keeps the
  k + 1 best of those (ties by the lower index), then drops its self matches. With exact
  indexes this is the single-process search.
* **Graph.** A_ij from the similarities (Iscen eq. 9), W = A + Aᵀ: each edge i → j is also
  sent to the owner of j. 𝒲 = D^-½ W D^-½ with the degrees of the neighbours' owners.
* **Products.** 𝒲 v needs, besides this process's rows of v, the rows its edges reach on other
  processes (its *halo*). Each product sends exactly those rows (:meth:`ShardedGraph.with_halo`,
  one ``all_to_all``); CG's column sums are summed over the processes
  (:func:`~deeplabelprop.distributed.sum_of`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist

from .. import distributed
from .affinity import edge_weights
from .knn import (
    RECALL_SAMPLE,
    TUNE_FROM_ONE,
    _faiss,
    _ivf_index,
    _set_nprobe,
    ivf_lists,
    plan_search,
    tune_nprobe,
)
from .operator import sparse_operator

logger = logging.getLogger(__name__)

QUERY_BLOCK = 16_384  # query rows per process per exchange of the search


@dataclass
class ShardedGraph:
    """This process's rows of 𝒲 = D^-½ W D^-½ over ``n_samples`` points.

    Attributes
    ----------
    n_samples : int                  rows over all processes
    rows : slice                     this process's rows (:func:`~deeplabelprop.distributed.shard`)
    normalized : csr_matrix          (len(rows), len(rows) + h): columns are this process's rows,
                                     then its h halo rows (rows of other processes its edges
                                     reach, in increasing global order)
    halo : ndarray of int64          the global rows of the halo columns
    degrees : ndarray                d_i = Σ_j W_ij of this process's rows
    send : list of ndarray           per process: the offsets of own rows that process needs
                                     (none for this process itself)
    receive : list of int            per process: how many halo rows come from it
    edges : int                      the non-zeros of W over all processes
    knn_recall : float or None       measured recall@k when the search was approximate
    """

    n_samples: int
    rows: slice
    normalized: sp.csr_matrix
    halo: np.ndarray
    degrees: np.ndarray
    send: list
    receive: list
    edges: int
    knn_recall: float | None
    _operators: dict = field(default_factory=dict, compare=False, repr=False)

    def operator(self, device: str | torch.device, dtype: torch.dtype) -> torch.Tensor:
        """This process's rows of 𝒲 on ``device`` in ``dtype`` (columns: own rows, then the
        halo), built once per device and dtype and kept: the held-out solves run in blocks of
        columns, and each block used to build it again."""
        key = (str(device), dtype)
        if key not in self._operators:
            self._operators[key] = sparse_operator(self.normalized, device, dtype)
        return self._operators[key]

    def with_halo(self, v: torch.Tensor) -> torch.Tensor:
        """(own rows + halo rows, c): ``v`` (own rows, c) followed by the halo rows, which
        their owners send in one exchange."""
        return with_halo(v, self.send, self.receive)


def rows_at(values: np.ndarray, own: slice, rows: np.ndarray) -> np.ndarray:
    """``values`` (this process's rows ``own``, c) at the global ``rows``, whichever process
    holds them: every process gets the same (len(rows), c) array."""
    out = np.zeros((len(rows), values.shape[1]), dtype=values.dtype)
    mine = (rows >= own.start) & (rows < own.stop)
    out[mine] = values[rows[mine] - own.start]
    return summed(out)


def summed(a: np.ndarray) -> np.ndarray:
    """The element-wise sum of ``a`` over the processes (``a`` itself with one)."""
    return distributed.sum_of(torch.from_numpy(np.ascontiguousarray(a))).numpy()


def with_halo(v: torch.Tensor, send: list, receive: list) -> torch.Tensor:
    """``v`` (own rows, c) followed by the halo rows: each process sends the rows of ``v`` at
    its ``send`` offsets to the process that needs them, ``receive`` rows arrive from each."""
    out = v[torch.from_numpy(np.concatenate(send)).to(v.device)]
    return torch.cat([v, distributed.all_to_all(out, [len(s) for s in send], list(receive))])


def tensor_device() -> str:
    """Where exchanged tensors live: this process's GPU under NCCL, else the CPU (gloo)."""
    if distributed.active() and dist.get_backend() == "nccl":
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


def _shard_index(x: np.ndarray, k: int, exact: bool, random_state: int):
    """A faiss index of this process's rows: flat, or an IVF whose nprobe reaches the recall
    target on queries from the shard itself."""
    faiss = _faiss()
    n, d = x.shape
    if exact:
        index = faiss.IndexFlatIP(d)
        index.add(x)
        return index
    nlist = ivf_lists(n)
    index, ivf = _ivf_index(x, nlist, random_state)
    index.add(x)
    start = 1 if n >= TUNE_FROM_ONE else min(nlist, max(8, math.ceil(4 * k * nlist / n)))
    _set_nprobe(ivf, tune_nprobe(x, index, ivf, k, start, random_state))
    return index


def _search_all(queries: np.ndarray, search, k: int, n_blocks: int, block: int):
    """The k best (similarity, global row) over every process's index for each of this
    process's ``queries``; ``search(q, k)`` searches this process's index and returns global
    rows (-1 for none). Every process runs ``n_blocks`` exchanges of ``block`` rows."""
    w, d = distributed.world_size(), queries.shape[1]
    sims = np.empty((len(queries), k), dtype=np.float32)
    idx = np.empty((len(queries), k), dtype=np.int64)
    for b in range(n_blocks):
        lo, hi = min(b * block, len(queries)), min((b + 1) * block, len(queries))
        q = np.zeros((block, d), dtype=np.float32)
        q[: hi - lo] = queries[lo:hi]
        everyone = distributed.gather_batch(torch.from_numpy(q)).numpy()
        s, i = search(everyone, k)
        s_back = distributed.all_to_all(torch.from_numpy(s), [block] * w, [block] * w).numpy()
        i_back = distributed.all_to_all(torch.from_numpy(i), [block] * w, [block] * w).numpy()
        # rows p·block:(p+1)·block came from process p: my queries against its rows
        cand_s = s_back.reshape(w, block, k).transpose(1, 0, 2).reshape(block, w * k)
        cand_i = i_back.reshape(w, block, k).transpose(1, 0, 2).reshape(block, w * k)
        cand_s = np.where(cand_i >= 0, cand_s, -np.inf)
        best = np.lexsort((cand_i, -cand_s))[:, :k]  # by similarity, ties by the lower row
        sims[lo:hi] = np.take_along_axis(cand_s, best, axis=1)[: hi - lo]
        idx[lo:hi] = np.take_along_axis(cand_i, best, axis=1)[: hi - lo]
        if n_blocks > 1:
            logger.info("sharded kNN search: block %d of %d", b + 1, n_blocks)
    return sims, idx


def _without_self(sims: np.ndarray, idx: np.ndarray, own: np.ndarray, k: int):
    """k of k + 1 results per row: the row's own index ``own`` removed (or the last result)."""
    order = np.argsort(idx == own[:, None], axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _searcher(index, first: int):
    """``index.search`` answering with global rows (this process's start is ``first``)."""

    def search(q: np.ndarray, k: int):
        s, i = index.search(q, k)
        return s, np.where(i >= 0, i.astype(np.int64) + first, -1)

    return search


def _exact_searcher(x: np.ndarray, first: int):
    """Exact search of this process's rows (faiss's blocked brute force, no copy of ``x``)."""

    def search(q: np.ndarray, k: int):
        s, i = _faiss().knn(q, x, k, metric=_faiss().METRIC_INNER_PRODUCT)
        return s, i.astype(np.int64) + first

    return search


def _recall(x: np.ndarray, idx: np.ndarray, starts: np.ndarray, random_state: int) -> float:
    """recall@k of ``idx`` on a sample of each process's rows, against an exact search over
    every process's rows (pooled over all processes' samples)."""
    w, first = distributed.world_size(), int(starts[distributed.rank()])
    k = idx.shape[1]
    size = int(min(max(1, RECALL_SAMPLE // w), np.diff(starts).min()))
    rng = np.random.default_rng([random_state, distributed.rank()])
    rows = np.sort(rng.choice(len(x), size, replace=False))
    sims, truth = _search_all(x[rows], _exact_searcher(x, first), k + 1, 1, size)
    _, truth = _without_self(sims, truth, rows + first, k)
    hits = sum(np.isin(t, idx[r]).sum() for t, r in zip(truth, rows, strict=True))
    totals = distributed.sum_of(torch.tensor([float(hits), float(truth.size)], dtype=torch.float64))
    return float(totals[0] / totals[1])


def sharded_knn(x: np.ndarray, n_samples: int, k: int, *, exact: bool | None, random_state: int):
    """(sims, idx, recall) of this process's unit rows ``x`` among all ``n_samples`` rows: k
    neighbours each, global rows, self matches removed; ``recall`` None when exact."""
    starts = distributed.shard_starts(n_samples)
    first = int(starts[distributed.rank()])
    plan = plan_search(n_samples, backend="faiss", exact=exact, device="cpu")
    index = _shard_index(x, k + 1, plan.exact, random_state)
    n_blocks = max(1, math.ceil(int(np.diff(starts).max()) / QUERY_BLOCK))
    block = min(QUERY_BLOCK, int(np.diff(starts).max()))
    sims, idx = _search_all(x, _searcher(index, first), k + 1, n_blocks, block)
    del index
    sims, idx = _without_self(sims, idx, np.arange(first, first + len(x)), k)
    recall = None if plan.exact else _recall(x, idx, starts, random_state)
    if recall is not None:
        logger.info("sharded approximate kNN recall@%d: %.4f", k, recall)
    return sims, idx, recall


def _transposed_edges(src: np.ndarray, dst: np.ndarray, val: np.ndarray, starts: np.ndarray):
    """Each edge src → dst sent to the owner of dst as (dst, src, val): the Aᵀ entries of the
    rows this process owns, from every process."""
    owner = np.searchsorted(starts, dst, side="right") - 1
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=distributed.world_size()).tolist()
    incoming = distributed.exchange_counts(counts)
    moved = [
        distributed.all_to_all(torch.from_numpy(np.ascontiguousarray(a[order])), counts, incoming)
        for a in (dst, src, val)
    ]
    return [m.numpy() for m in moved]


def _halo_plan(columns: np.ndarray, starts: np.ndarray, rows: slice):
    """(halo rows, send offsets per process, receive counts per process) for the columns a
    process's rows of W reach."""
    halo = np.unique(columns[(columns < rows.start) | (columns >= rows.stop)])
    owner = np.searchsorted(starts, halo, side="right") - 1
    receive = np.bincount(owner, minlength=distributed.world_size()).tolist()
    asked = distributed.exchange_counts(receive)
    wanted = distributed.all_to_all(torch.from_numpy(halo), receive, asked).numpy() - rows.start
    send = np.split(wanted, np.cumsum(asked)[:-1])
    return halo, send, receive


def sharded_knn_graph(
    x: np.ndarray,
    n_samples: int,
    n_neighbors: int,
    *,
    kernel: str = "power",
    gamma: float = 3.0,
    tau: float = 0.1,
    sigma: float = 0.1,
    exact: bool | None = None,
    random_state: int = 0,
) -> ShardedGraph:
    """Iscen eq. (9) over shards: this process's unit rows ``x`` of ``n_samples``; kNN over
    every shard, W = A + Aᵀ, 𝒲 = D^-½ W D^-½ (see the module docstring)."""
    starts = distributed.shard_starts(n_samples)
    rows = slice(int(starts[distributed.rank()]), int(starts[distributed.rank() + 1]))
    sims, idx, recall = sharded_knn(
        x, n_samples, n_neighbors, exact=exact, random_state=random_state
    )
    weights = edge_weights(sims, idx, kernel=kernel, gamma=gamma, tau=tau, sigma=sigma)
    src = np.repeat(np.arange(rows.start, rows.stop), idx.shape[1])
    dst, val = idx.ravel(), np.asarray(weights, dtype=np.float64).ravel()
    keep = (val > 0) & (dst >= 0) & (dst != src)
    src, dst, val = src[keep], dst[keep], val[keep]
    t_rows, t_cols, t_vals = _transposed_edges(src, dst, val, starts)
    w = sp.csr_matrix(
        (
            np.concatenate([val, t_vals]),
            (np.concatenate([src, t_rows]) - rows.start, np.concatenate([dst, t_cols])),
        ),
        shape=(len(x), n_samples),
    )  # duplicates (an edge found both ways) are summed: W = A + Aᵀ
    halo, send, receive = _halo_plan(w.indices, starts, rows)
    degrees = np.asarray(w.sum(axis=1)).ravel()
    extended = with_halo(torch.from_numpy(degrees[:, None]), send, receive).numpy()[:, 0]
    inv_sqrt = np.zeros_like(extended)
    np.divide(1.0, np.sqrt(extended), out=inv_sqrt, where=extended > 0)
    own = (w.indices >= rows.start) & (w.indices < rows.stop)
    columns = np.where(own, w.indices - rows.start, len(x) + np.searchsorted(halo, w.indices))
    row_of = np.repeat(np.arange(len(x)), np.diff(w.indptr))
    data = w.data * inv_sqrt[row_of] * inv_sqrt[columns]
    normalized = sp.csr_matrix((data, columns, w.indptr), shape=(len(x), len(x) + len(halo)))
    normalized.sort_indices()
    edges = int(distributed.sum_of(torch.tensor([w.nnz], dtype=torch.int64)).item())
    return ShardedGraph(n_samples, rows, normalized, halo, degrees, send, receive, edges, recall)
