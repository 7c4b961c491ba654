"""k-nearest-neighbour search by inner product, one signature across backends.

``knn(x, k)`` returns ``(similarities, indices)`` of shape (n, k), sorted by decreasing
similarity, with each point's own match removed. Rows of ``x`` are compared by inner product,
so pass ℓ2-normalised rows (:func:`l2_normalize`) for cosine similarity.

Backends
--------
``"faiss"``  exact search (``IndexFlatIP``) or, with ``exact=False``, approximate search
             (IVF-Flat by default, or HNSW) whose recall is measured on a sample of queries;
             on the GPU when the device is CUDA and the ``faiss-gpu`` build is installed
             (HNSW has no GPU version and stays on the CPU).
``"torch"``  exact blocked matrix products on CPU or CUDA; each block of similarities is
             sized to the memory there is (:func:`block_rows`), never n × n.
``"auto"``   on a CUDA device: faiss on the GPU with ``faiss-gpu``, else torch (exact), or
             faiss on the CPU when approximate search is asked for. On the CPU: faiss, exact up
             to ``EXACT_MAX_SAMPLES`` points, approximate IVF above (exact search on 2 CPU
             cores costs ~7 s at 60k × 64 against ~1.2 s for IVF at 98 % recall; benchmarks).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_features, check_n_neighbors, row_blocks
from ..errors import InputError

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "faiss", "torch")
APPROXIMATE_INDEXES = ("ivf", "hnsw")
EXACT_MAX_SAMPLES = 20_000
CPU_BLOCK_BYTES = 256 * 2**20  # a torch block of similarities on the CPU


@dataclass(frozen=True)
class SearchPlan:
    """What :func:`knn` will run for a given size: backend, exactness, index and device."""

    backend: str
    exact: bool
    index: str  # "flat" for exact search, else "ivf" or "hnsw"
    device: str


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit ℓ2 norm (float32); all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    out = np.zeros_like(x)
    for rows in row_blocks(len(x)):  # each row alone, so in blocks: no (n, d) temporaries
        norms = np.linalg.norm(x[rows], axis=1, keepdims=True)
        np.divide(x[rows], norms, out=out[rows], where=norms > 0)
    return out


def default_device() -> str:
    """``"cuda"`` when a GPU is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def faiss_gpus() -> int:
    """GPUs faiss can search on: 0 without the ``faiss-gpu`` build (or without faiss)."""
    try:
        faiss = _faiss()
    except ImportError:
        return 0
    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    return int(faiss.get_num_gpus())


def plan_search(
    n_samples: int,
    *,
    backend: str = "auto",
    exact: bool | None = None,
    index: str = "ivf",
    device: str | None = None,
) -> SearchPlan:
    """Resolve ``backend="auto"`` and ``exact=None`` into a concrete :class:`SearchPlan`."""
    if backend not in BACKENDS:
        raise InputError(f"unknown kNN backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if index not in APPROXIMATE_INDEXES:
        raise InputError(
            f"unknown approximate index {index!r}; choose one of {', '.join(APPROXIMATE_INDEXES)}"
        )
    device = device or default_device()
    on_gpu = device.startswith("cuda")
    if on_gpu and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available; use device='cpu'")
    if backend == "auto":
        # exact search on a GPU is fast at any size this library meets; torch does it unless
        # faiss can use the GPU, and approximate search asked for goes to faiss (CPU if need be)
        backend = "faiss" if (on_gpu and faiss_gpus()) or not on_gpu or exact is False else "torch"
        if on_gpu and not faiss_gpus():
            logger.info(
                "faiss has no GPU support here (faiss-cpu): kNN %s; install faiss-gpu-cu12 for "
                "faiss on the GPU",
                "by faiss on the CPU" if backend == "faiss" else "by torch on the GPU (exact)",
            )
    if backend == "torch":
        if exact is False:
            raise InputError(
                "the torch backend is exact; use backend='faiss' (or 'auto') for approximate search"
            )
        return SearchPlan("torch", True, "flat", device)
    faiss_on_gpu = on_gpu and faiss_gpus() > 0
    if exact is None:
        exact = faiss_on_gpu or n_samples <= EXACT_MAX_SAMPLES
    exact = bool(exact)
    where = device if faiss_on_gpu and (exact or index == "ivf") else "cpu"
    return SearchPlan("faiss", exact, "flat" if exact else index, where)


def block_rows(n_base: int, device: str, k: int = 0) -> int:
    """Query rows per block of the torch search: a (rows × n_base) float32 block of similarities
    with its top-k takes at most a quarter of the free memory of a GPU, or ``CPU_BLOCK_BYTES``
    on the CPU (at a million points: 64 rows on the CPU, not the 16 GB of a fixed 4096)."""
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        budget = free // 4
    else:
        budget = CPU_BLOCK_BYTES
    per_row = 4 * n_base + 12 * max(k, 1)  # similarities + top-k values and indices
    return int(max(1, min(budget // per_row, 65_536)))


def knn(
    features: np.ndarray,
    k: int,
    *,
    backend: str = "auto",
    exact: bool | None = None,
    index: str = "ivf",
    nprobe: int | None = None,
    device: str | None = None,
    chunk_size: int | None = None,
    random_state: int = 0,
    checked: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of every row of ``features`` among the other rows.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        Compared by inner product (ℓ2-normalise rows first for cosine similarity).
    k : int
        Neighbours per point, ``1 <= k < n_samples``.
    backend, exact, index, device
        See the module docstring and :func:`plan_search`.
    nprobe : int, optional
        IVF lists visited per query (default: 8, or more for small lists, then doubled until
        a sample of 500 queries finds 95 % of its true neighbours: :func:`tune_nprobe`).
    chunk_size : int, optional
        Query rows per block for the torch backend (default: sized to the memory,
        :func:`block_rows`).
    checked : bool
        ``features`` are a checked C-contiguous float32 array already (the pipeline's): not
        checked again.

    Returns
    -------
    similarities : ndarray of shape (n_samples, k), float32, decreasing along each row
    indices : ndarray of shape (n_samples, k), int64, never the row's own index
    """
    x = features if checked else check_features(features)
    n = x.shape[0]
    k = check_n_neighbors(k, n)
    plan = plan_search(n, backend=backend, exact=exact, index=index, device=device)
    if plan.backend == "torch":
        sims, idx = _search_torch(x, k + 1, plan.device, chunk_size)
    elif plan.exact:
        sims, idx = _search_faiss_flat(x, x, k + 1, plan.device)
    else:
        sims, idx = _search_faiss_approximate(
            x, k + 1, plan.index, nprobe, random_state, plan.device
        )
    return drop_self_matches(sims, idx, k)


def knn_search(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    backend: str = "auto",
    device: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of ``base`` for each row of ``queries``, by inner product.

    Each query's answer depends on that query alone (no self match is removed: the queries are
    not assumed to be in ``base``). Returns (similarities, indices), each (n_queries, k), sorted
    by decreasing similarity; ``k`` is capped at the size of ``base``.
    """
    q, b = check_features(queries, name="queries"), check_features(base, name="base")
    if q.shape[1] != b.shape[1]:
        raise InputError(
            f"queries have {q.shape[1]} features but the base has {b.shape[1]}; embed both alike"
        )
    k = min(int(k), b.shape[0])
    plan = plan_search(b.shape[0], backend=backend, exact=True, device=device)
    if plan.backend == "torch":
        return _search_torch(b, k, plan.device, None, queries=q)
    return _search_faiss_flat(b, q, k, plan.device)


def drop_self_matches(sims: np.ndarray, idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index from k+1 results (or the last result when it is absent).

    With duplicate points the self match need not come first, so it is looked up, not assumed.
    """
    n = idx.shape[0]
    is_self = idx == np.arange(n)[:, None]
    # argsort of a boolean mask (stable) puts non-self entries first, keeping their order
    order = np.argsort(is_self, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _faiss():
    import faiss  # imported lazily: a heavy module that only this backend needs

    return faiss


def _on_device(index, device: str):
    """``index`` moved to the GPU ``device`` (faiss-gpu), with the resources it needs; or as it
    is on the CPU. Returns (index, resources): keep the resources alive while searching."""
    if not device.startswith("cuda"):
        return index, None
    faiss = _faiss()
    resources = faiss.StandardGpuResources()
    gpu = torch.device(device).index
    return faiss.index_cpu_to_gpu(resources, 0 if gpu is None else gpu, index), resources


def _search_faiss_flat(
    base: np.ndarray, queries: np.ndarray, k: int, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    faiss = _faiss()
    if not device.startswith("cuda"):
        # over ``base`` where it is: an index would copy it (2.6 GB at 10 M × 64)
        sims, idx = faiss.knn(queries, base, k, metric=faiss.METRIC_INNER_PRODUCT)
        return sims, idx.astype(np.int64)
    index, _resources = _on_device(faiss.IndexFlatIP(base.shape[1]), device)
    index.add(base)
    sims, idx = index.search(queries, k)
    return sims, idx.astype(np.int64)


RECALL_TARGET = 0.95  # nprobe is raised until a sample of queries finds this share
# queries in each exact sample (the tuning's, and the recall check's on other rows): 500 queries
# × k neighbours measure a recall near 0.95 to about ±0.01; two samples of 1,000 took 0.43 s of
# a 1.4 s propagation at 60k points (Fashion-MNIST PCA-64; benchmarks/RESULTS.md)
RECALL_SAMPLE = 500
LARGE_IVF = 2_000_000  # from here: ~2√n lists, an HNSW quantizer and fast-scan codes
SEARCH_BLOCK = 262_144  # queries per block of the full search (progress and time left)
TUNE_FROM_ONE = 500_000  # from here the tuning starts at one list: the search is most of the time
# below TUNE_FROM_ONE the tuning starts at this many lists (or more, for small lists): at 60k
# points 4 lists already find 96.7 % of the neighbours, but the graph then costs 0.04-0.5 points
# of accuracy against 8 lists' 99.5 % (Fashion-MNIST PCA-64, 100 and 1,000 labels)
FIRST_NPROBE = 8


def ivf_lists(n: int) -> int:
    """IVF lists for ``n`` points: √n (at most n/39, so that k-means has 39 points per list)
    below ``LARGE_IVF``; above, 2√n rounded to a power of two (10 M: 8,192), where the
    quantizer is an HNSW graph so that assigning a point does not scan every list.

    Not faiss's 4-16√n: at a given recall a query scans about the same number of points
    whatever the list size, so fewer, larger lists cost less to train (k-means is ∝ lists²)
    and to find. 3 M points in 90 clusters, recall 0.955: 4,096 lists (24 visited) searched
    in 88 µs per query against 101 µs for 8,192 (48 visited) and trained in a third of the
    time (benchmarks/RESULTS.md)."""
    if n < LARGE_IVF:
        return max(1, min(int(round(math.sqrt(n))), n // 39))
    return 2 ** int(round(math.log2(2 * math.sqrt(n))))


REFINE_FACTOR = 32  # fast-scan candidates re-ranked exactly, per neighbour asked for
# training points per list of a large set: k-means costs ∝ points × lists, and 16 per list
# found lists as good as 32 (3 M points: recall 0.975 against 0.964 at 64 lists visited) in
# half the time (19 s against 39 s at 8,192 lists)
LARGE_TRAIN_PER_LIST = 16


def _large_spec(nlist: int, d: int) -> str:
    """The faiss index of a large set: ``nlist`` lists found through an HNSW graph; each point
    coded in 4 bits per dimension and scanned with SIMD (fast-scan PQ, about 4× cheaper per
    point than float32 at equal recall, measured), and the best ``REFINE_FACTOR``·k candidates
    re-ranked with the exact vectors, so similarities stay exact. Odd dimensions: IVF-Flat."""
    codes = f"PQ{d}x4fs,RFlat" if d % 2 == 0 else "Flat"
    return f"IVF{nlist}_HNSW32,{codes}"


def _ivf_index(x: np.ndarray, nlist: int, random_state: int):
    """An IVF index by inner product over ``nlist`` lists, trained on a sample of ``x``:
    IVF-Flat below ``LARGE_IVF`` points, :func:`_large_spec` above."""
    faiss = _faiss()
    n, d = x.shape
    large = n >= LARGE_IVF
    if large:
        ix = faiss.index_factory(d, _large_spec(nlist, d), faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.extract_index_ivf(ix)
        ivf.cp.niter = 10
        if hasattr(ix, "k_factor"):
            ix.k_factor = REFINE_FACTOR
    else:
        ix = ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = int(random_state)
    rng = np.random.default_rng(random_state)
    per_list = LARGE_TRAIN_PER_LIST if large else 64
    ivf.cp.min_points_per_centroid = min(per_list, ivf.cp.min_points_per_centroid)  # no warning
    n_train = min(n, per_list * nlist)
    t0 = time.perf_counter()
    ix.train(x[np.sort(rng.choice(n, n_train, replace=False))])
    if large:
        logger.info(
            "IVF: %d lists trained on %d points in %.1f s", nlist, n_train, time.perf_counter() - t0
        )
    return ix, ivf


def _set_nprobe(ivf, nprobe: int) -> None:
    ivf.nprobe = nprobe
    quantizer = _faiss().downcast_index(ivf.quantizer)
    if hasattr(quantizer, "hnsw"):
        quantizer.hnsw.efSearch = max(64, 2 * nprobe)


def tune_nprobe(x: np.ndarray, ix, ivf, k: int, start: int, random_state: int) -> int:
    """The smallest nprobe from ``start`` (doubling, then halfway back once) at which a sample
    of queries finds ``RECALL_TARGET`` of its true k nearest neighbours (exact search of the
    sample). The search costs about ∝ nprobe, and a doubling can overshoot by a factor 2: at
    10 M points 32 lists of 16,384 found too few neighbours and 64 found 0.959."""
    n = x.shape[0]
    rows = np.sort(
        np.random.default_rng([random_state, 7]).choice(n, min(n, RECALL_SAMPLE), replace=False)
    )
    _, truth = _search_faiss_flat(x, x[rows], k)

    def reaches(nprobe: int) -> bool:
        _set_nprobe(ivf, nprobe)
        _, idx = ix.search(x[rows], k)
        # each query's own match is left out of what it must find
        found = [
            np.isin(t[t != r][: k - 1], i).mean() for t, r, i in zip(truth, rows, idx, strict=True)
        ]
        recall = float(np.mean(found))
        logger.info(
            "IVF nprobe %d: recall@%d %.4f on %d sampled queries", nprobe, k - 1, recall, rows.size
        )
        return recall >= RECALL_TARGET

    nprobe = start
    while not reaches(nprobe) and nprobe < ivf.nlist:
        nprobe = min(ivf.nlist, 2 * nprobe)
    halfway = (3 * nprobe) // 4
    if nprobe > start and nprobe // 2 < halfway < nprobe and reaches(halfway):
        return halfway
    return nprobe


def _search_blocks(ix, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``ix.search`` of every row, in blocks, saying how far it is and the time left."""
    n = x.shape[0]
    if n <= SEARCH_BLOCK:
        return ix.search(x, k)
    sims, idx = np.empty((n, k), dtype=np.float32), np.empty((n, k), dtype=np.int64)
    t0 = time.perf_counter()
    for start in range(0, n, SEARCH_BLOCK):
        stop = min(n, start + SEARCH_BLOCK)
        sims[start:stop], idx[start:stop] = ix.search(x[start:stop], k)
        spent = time.perf_counter() - t0
        logger.info(
            "kNN search: %d of %d rows (%.0f %%), %.0f s, about %.0f s left",
            stop,
            n,
            100 * stop / n,
            spent,
            spent * (n - stop) / stop,
        )
    return sims, idx


def _search_faiss_approximate(
    x: np.ndarray, k: int, index: str, nprobe: int | None, random_state: int, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    faiss = _faiss()
    n, d = x.shape
    resources = None
    if index == "hnsw":
        ix = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        ix.hnsw.efConstruction = 40
        ix.add(x)
        ix.hnsw.efSearch = max(64, 2 * k)
    else:
        nlist = ivf_lists(n)
        ix, ivf = _ivf_index(x, nlist, random_state)
        t0 = time.perf_counter()
        ix.add(x)
        logger.info("IVF: %d points added in %.1f s", n, time.perf_counter() - t0)
        # visit enough lists that on average they hold several times k points (from
        # TUNE_FROM_ONE points: one list), then more until a sample of queries finds
        # RECALL_TARGET of its neighbours (an explicit nprobe is used as given)
        default = (
            1 if n >= TUNE_FROM_ONE else min(nlist, max(FIRST_NPROBE, math.ceil(4 * k * nlist / n)))
        )
        chosen = nprobe or tune_nprobe(x, ix, ivf, k, default, random_state)
        _set_nprobe(ivf, chosen)
        ix, resources = _on_device(ix, device)
    sims, idx = _search_blocks(ix, x, k)
    idx = idx.astype(np.int64)
    missing = (idx < 0).any(axis=1)
    if missing.any():
        # IVF lists can run dry for points in small clusters: complete those rows exactly
        rows = np.flatnonzero(missing)
        logger.info(
            "approximate kNN returned fewer than %d neighbours for %d rows; searched them exactly",
            k,
            rows.size,
        )
        sims[rows], idx[rows] = _search_faiss_flat(x, x[rows], k, device)
    del resources
    return sims, idx


def _search_torch(
    x: np.ndarray,
    k: int,
    device: str,
    chunk_size: int | None,
    queries: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    base = torch.from_numpy(x).to(device)
    q = base if queries is None else torch.from_numpy(queries).to(device)
    chunk_size = chunk_size or block_rows(base.shape[0], device, k)
    sims = np.empty((q.shape[0], k), dtype=np.float32)
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    with torch.no_grad():
        for start in range(0, q.shape[0], chunk_size):
            block = q[start : start + chunk_size] @ base.T  # (chunk, n), never n × n
            s, i = block.topk(k, dim=1)
            sims[start : start + chunk_size] = s.cpu().numpy()
            idx[start : start + chunk_size] = i.cpu().numpy()
    return sims, idx


def neighbor_recall(
    features: np.ndarray,
    indices: np.ndarray,
    *,
    n_queries: int = RECALL_SAMPLE,
    random_state: int = 0,
) -> float:
    """Fraction of the true k nearest neighbours that ``indices`` contains, on sampled rows.

    The truth is exact search (self match removed) for ``n_queries`` random rows, so the
    cost is O(n_queries · n · d) however large the data set.
    """
    x = check_features(features)
    n, k = indices.shape
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(n, min(n, n_queries), replace=False))
    sims, idx = _search_faiss_flat(x, x[rows], k + 1)
    is_self = idx == rows[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")[:, :k]
    truth = np.take_along_axis(idx, order, axis=1)
    hits = sum(len(np.intersect1d(truth[j], indices[r])) for j, r in enumerate(rows))
    return hits / truth.size
