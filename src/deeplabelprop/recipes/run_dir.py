"""The run directory contract: every recipe (and ``pretrain``) opens and closes a run here.

``run.json`` records the recipe, the package version, the data, every stage with the settings
that shape it and its status, and where the outputs are (which is all ``report`` reads). A rerun
into the same folder is checked against it before anything is written:

* a stage that started (or finished) with other settings is refused with the differing keys;
* a finished stage with the same settings is skipped; a started one resumes from its checkpoint;
* a folder holding another recipe's run, a ``--fast-dev-run`` run (or the reverse), or anything
  that is not a run is refused, and nothing in it changes.

The data are loaded before the folder is created, so a data error also leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import __version__, distributed
from .._runfile import FORMAT, RUN_FILE, read_run
from ..atomic import atomic_path, save_npz
from ..config import differences, plain, to_dict
from ..data import LoadOptions, Problem, load_problem, save_split
from ..data.readers.folder import read_audit_rows
from ..data.readers.options import label_files
from ..errors import InputError

logger = logging.getLogger(__name__)


def _git_sha() -> str | None:
    from ..train.loop import git_sha

    return git_sha()


# what a stage reads, by default: every stage reads the images, the given labels and the test
# set, except the stages a recipe names label-free (an instance-discrimination metric)
INPUTS = ("images", "labels", "test")
EMBED_AGAIN = "embed again"  # a stage status: a kept encoder embeds a changed image list


class Run:
    """An open run directory (see the module docstring); create it with :func:`open_run`."""

    def __init__(
        self, path: Path, record: dict, stages: dict[str, dict], label_free: tuple[str, ...] = ()
    ):
        self.path, self.record, self.stages = path, record, stages
        self.label_free = set(label_free)

    def reads(self, stage: str) -> set[str]:
        """The inputs stage ``stage`` reads (:data:`INPUTS`)."""
        return {"images"} if stage in self.label_free else set(INPUTS)

    @property
    def round(self) -> int:
        """The round of labels this run is on: 1, then one more each time its inputs change."""
        return int(self.record.get("round", 1))

    # -- writing run.json -------------------------------------------------------------------
    def _save(self) -> None:
        with atomic_path(self.path / RUN_FILE) as tmp:
            tmp.write_text(json.dumps(self.record, indent=1, default=str))

    def create(self, problem: Problem) -> None:
        """Make the folder and record the data (split, labels) once they are known to load."""
        if distributed.is_main():
            self.path.mkdir(parents=True, exist_ok=True)
        if problem.split is not None and not (self.path / "split.json").exists():
            save_split(
                self.path / "split.json", problem.split, problem.train.labels, problem.classes
            )
        self._follow_inputs(problem)
        arrays = {
            "given": problem.given,
            "classes": np.asarray(problem.classes, dtype=str),
            "names": np.asarray(problem.train.example_names(), dtype=str),
        }
        if problem.truth is not None:
            arrays["truth"] = problem.truth
        if problem.test is not None:
            arrays["test_truth"] = problem.test.labels
        save_npz(self.path / "labels.npz", **arrays)
        self._keep_audit(problem)
        self.record["data"] |= {
            "n_train": len(problem.train),
            "n_test": 0 if problem.test is None else len(problem.test),
            "n_given": int((problem.given >= 0).sum()),
            "classes": list(problem.classes),
            "image_shape": list(problem.train.shape),
            "notes": list(problem.notes),
        }
        self.output("labels", "labels.npz")

    def _keep_audit(self, problem: Problem) -> None:
        """``audit.txt``: the audit rows of this round, which the next rounds keep."""
        if not distributed.is_main():
            return
        path = self.path / AUDIT_FILE
        if problem.audit is None:
            path.unlink(missing_ok=True)
            return
        names = problem.train.example_names()
        with atomic_path(path) as tmp:
            tmp.write_text("".join(f"{names[i]}\n" for i in np.flatnonzero(problem.audit)))

    def _follow_inputs(self, problem: Problem) -> None:
        """Make's rule: a stage is stale when what it reads changed. The first recorded stage
        that reads a changed input reruns, and every stage after it (they read its output);
        the stages before it are kept. Said in one line, e.g. "labels: 60 added, 2 changed, 0
        removed; keeping metric; rerunning propagate, finetune". A rerun starts a new round."""
        inputs = problem.fingerprints()
        previous = self.record.get("inputs")
        self.record["inputs"] = inputs
        done = [s for s in self.stages if s in self.record["stages"]]
        if not done or previous == inputs:
            return
        changed = (
            set(INPUTS)
            if previous is None
            else {k for k in INPUTS if previous.get(k) != inputs.get(k)}
        )
        first = next((i for i, s in enumerate(done) if self.reads(s) & changed), None)
        if first is None:
            return
        rerun, kept = done[first:], done[:first]
        embed = [s for s in rerun[:1] if self._embeds_new_images(s, changed)]
        for stage in rerun:
            if stage in embed:  # the encoder is kept; only its features are of the old images
                self.record["stages"][stage]["status"] = EMBED_AGAIN
                (self.path / stage / "features.npy").unlink(missing_ok=True)
                continue
            del self.record["stages"][stage]
            if distributed.is_main() and (self.path / stage).is_dir():
                shutil.rmtree(self.path / stage)  # its checkpoints are of the old inputs
        self.record["round"] = self.round + 1
        self.record["status"] = "running"
        what = describe_changes(self.path, problem, changed, previous is None)
        kept_part = f"keeping {', '.join(kept)}; " if kept else ""
        embed_part = f"embedding the images with the kept {embed[0]}; " if embed else ""
        again = [s for s in rerun if s not in embed]
        line = f"{what}; {kept_part}{embed_part}rerunning {', '.join(again)} (round {self.round})"
        logger.warning("%s", line)
        self.record.setdefault("notes", []).append(line)

    def _embeds_new_images(self, stage: str, changed: set[str]) -> bool:
        """A label-free metric whose settings say ``new_images = "embed"`` and whose labels did
        not change its training: it keeps its encoder and embeds the new image list."""
        metric = self.stages.get(stage, {}).get("metric", {})
        return (
            stage in self.label_free
            and changed - {"labels", "test"} == {"images"}
            and metric.get("new_images") == "embed"
            and metric.get("source") == "instance"
            and (self.path / stage / "encoder.pt").is_file()
        )

    def embeds_again(self, stage: str) -> bool:
        """Stage ``stage`` keeps its encoder and only embeds the images again (see above)."""
        return self.record["stages"].get(stage, {}).get("status") == EMBED_AGAIN

    def keep_round(self) -> None:
        """Copy what a person reads of this round (labels, pseudo labels, results,
        suggestions) into ``rounds/<k>/``, so the next round can be compared with it."""
        if not distributed.is_main():
            return
        folder = self.path / "rounds" / str(self.round)
        for name in ("labels.npz", "pseudo_labels.csv", "results.json"):
            if (self.path / name).is_file():
                with atomic_path(folder / name) as tmp:
                    shutil.copyfile(self.path / name, tmp)

    # -- stages -----------------------------------------------------------------------------
    def done(self, name: str) -> bool:
        """Stage ``name`` finished with these settings (rerun: skip it)."""
        return self.record["stages"].get(name, {}).get("status") == "done"

    @contextmanager
    def stage(self, name: str) -> Iterator[Path]:
        """Run stage ``name``: recorded as running with its settings, then done; yields its
        folder. A stage that raises stays "running" and resumes on the next run."""
        entry = self.record["stages"].setdefault(name, {})
        entry |= {"settings": plain(self.stages[name]), "status": "running"}
        self._save()
        logger.info("stage %s", name)
        t0 = time.perf_counter()
        yield self.path / name
        entry |= {"status": "done", "seconds": round(time.perf_counter() - t0, 2)}
        self._save()
        distributed.barrier()  # every rank now reads what rank 0 wrote

    def output(self, kind: str, relative: str) -> None:
        """Record where an output of ``kind`` is (``report`` finds it there)."""
        self.record["outputs"][kind] = relative
        self._save()

    def drop_output(self, kind: str) -> None:
        """Forget an output of ``kind`` (one that is not about the run's training images)."""
        if self.record["outputs"].pop(kind, None) is not None:
            self._save()

    def finish(self, results: dict) -> dict:
        """Write ``results.json`` and mark the run done; returns ``results``."""
        with atomic_path(self.path / "results.json") as tmp:
            tmp.write_text(json.dumps(results, indent=1, default=str))
        self.record["results"] = plain(results)
        self.record["status"] = "done"
        self.output("results", "results.json")
        self.keep_round()
        return results


def _refusal(path: Path, record: dict, recipe: str, fast_dev_run: bool, stages: dict) -> str | None:
    """Why an existing run at ``path`` cannot be continued with these settings, or None."""
    if record["recipe"] != recipe:
        return (
            f"{path} holds a {record['recipe']} run; write the {recipe} run to another folder (-o)"
        )
    if record.get("fast_dev_run") and not fast_dev_run:
        return (
            f"{path} holds a --fast-dev-run run (a few images, one epoch); write the full run to "
            "another folder (-o)"
        )
    if fast_dev_run and not record.get("fast_dev_run"):
        return f"{path} holds a full run; give --fast-dev-run its own folder (-o)"
    changed = []
    for name, entry in record["stages"].items():
        if name in stages:
            changed += [f"{name}: {d}" for d in differences(entry["settings"], stages[name])]
    if changed:
        reuse = (
            f"; to reuse its metric, set metric.source = 'checkpoint' and metric.checkpoint = "
            f"{path / 'metric' / 'encoder.pt'}"
            if (path / "metric" / "encoder.pt").exists()
            else ""
        )
        return (
            f"{path} was run with other settings ({'; '.join(changed)}). Use the same settings "
            f"to resume it, or a new folder (-o){reuse}"
        )
    return None


def open_run(
    path: str | Path,
    recipe: str,
    config,
    stages: dict[str, dict],
    *,
    fast_dev_run: bool = False,
    label_free: tuple[str, ...] = (),
) -> Run:
    """Check ``path`` against these settings (nothing is written yet) and return the run.

    ``stages`` maps each stage to the settings that shape it, in order; ``label_free`` names
    the stages that do not read the given labels (kept when only the labels change).
    """
    path = Path(path)
    _check_batches_split(config)
    # rank 0 decides (the others would otherwise see the folder rank 0 starts writing)
    record = distributed.from_main(lambda: _record(path, recipe, config, stages, fast_dev_run))
    return Run(path, record, stages, label_free)


def describe_changes(path: Path, problem: Problem, changed: set[str], unknown: bool) -> str:
    """What changed since the last round, in words: labels added, changed and removed (keyed
    by example), images added and removed."""
    if unknown:
        return "the earlier run did not record what it read"
    now = problem.given_by_name()
    names = set(problem.train.example_names())
    before, before_names = {}, None
    if (path / "labels.npz").is_file():
        with np.load(path / "labels.npz", allow_pickle=False) as z:
            if "names" in z.files:
                classes, given = z["classes"], z["given"]
                before_names = set(z["names"].tolist())
                before = {
                    str(n): str(classes[g])
                    for n, g in zip(z["names"], given, strict=True)
                    if g >= 0
                }
    parts = []
    if "images" in changed:
        if before_names is None:
            parts.append("images changed")
        else:
            parts.append(
                f"images: {len(names - before_names)} added, {len(before_names - names)} removed"
            )
    if "labels" in changed:
        added = sum(1 for n in now if n not in before)
        relabeled = sum(1 for n in now if n in before and before[n] != now[n])
        removed = sum(1 for n in before if n not in now)
        new_classes = sorted(set(now.values()) - set(before.values()))
        part = f"labels: {added} added, {relabeled} changed, {removed} removed"
        if new_classes and before:
            part += f"; new class(es): {', '.join(new_classes)}"
        parts.append(part)
    if "test" in changed:
        parts.append("test set changed")
    return "; ".join(parts)


def _record(path: Path, recipe: str, config, stages: dict, fast_dev_run: bool) -> dict:
    """The run record to continue (the folder's run.json, when it may be continued) or to start
    (an empty or new folder); anything else is refused."""
    if (path / RUN_FILE).exists():
        record = read_run(path)
        why = _refusal(path, record, recipe, fast_dev_run, stages)
        if why:
            raise InputError(why)
        record["config"] = to_dict(config)
        logger.info("continuing the %s run in %s", recipe, path)
    else:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            old = (
                " (a run of an older version: no run.json)"
                if (path / "config.json").exists()
                else ""
            )
            raise InputError(
                f"{path} exists and is not a deeplabelprop run directory{old}; choose a new or "
                "empty folder (-o)"
            )
        record = {
            "format": FORMAT,
            "recipe": recipe,
            "version": __version__,
            "git_sha": _git_sha(),
            "fast_dev_run": fast_dev_run,
            "config": to_dict(config),
            "data": problem_arguments(config),
            "stages": {},
            "outputs": {},
            "status": "running",
        }
    return record


def _check_batches_split(config) -> None:
    """Under torchrun every global batch is split evenly over the processes (so that averaging
    their gradients gives the single-process one): refuse, before anything is written, a batch
    size that the number of processes does not divide."""
    w = distributed.world_size()
    if w == 1:
        return
    for section, values in to_dict(config).items():
        if not isinstance(values, dict):
            continue
        sizes = {f"{section}.batch_size": values.get("batch_size")}
        if "batch_labeled" in values and "batch_unlabeled" in values:
            total = values["batch_labeled"] + values["batch_unlabeled"]
            sizes[f"{section}.batch_labeled + {section}.batch_unlabeled"] = total
        for name, size in sizes.items():
            if size is not None and size % w:
                raise InputError(
                    f"{name} = {size} does not split evenly over {w} processes; set it to a "
                    f"multiple of {w} (e.g. --set {name.split(' ')[0]}={size + w - size % w})"
                )


def problem_arguments(config) -> dict:
    """What :func:`~deeplabelprop.data.load_problem` needs to rebuild the run's data (``report``
    reads it from run.json to show images)."""
    return {
        "dataset": config.dataset,
        "options": plain(config.load_options().__dict__),
        "n_labeled": config.n_labeled,
        "seed": config.seed,
        "subset": config.subset,
        "validation_fraction": config.validation_fraction,
    }


KEPT_LABELS = "labels.csv"  # the run's own label file: benchmark sets, shards (review/target.py)
AUDIT_FILE = "audit.txt"  # the examples whose labels are audit rows, one per line


def with_kept_labels(path: Path, options: LoadOptions) -> LoadOptions:
    """``options`` reading the run's own label file (when it has one) under ``labels_from``:
    the corrections of the review page and the rows of earlier ``--labels-from`` files kept
    by the ``run`` command, for a data set whose labels do not live in an image folder."""
    kept = path / KEPT_LABELS
    if not kept.is_file():
        return options
    files = [str(f) for f in label_files(options) if f.resolve() != kept.resolve()]
    return replace(options, labels_from=(str(kept), *files))


def add_audit_keys(path: Path, keys: list[str]) -> None:
    """Record examples of run ``path`` as audit rows (labeled in the review page from
    ``suggest``'s random draw); the next round reads them with the rest of ``audit.txt``."""
    file = path / AUDIT_FILE
    known = file.read_text(encoding="utf-8").splitlines() if file.is_file() else []
    new = [k for k in keys if k not in known]
    if new:
        with atomic_path(file) as tmp:
            tmp.write_text("".join(f"{k}\n" for k in [*known, *new]), encoding="utf-8")


def audit_rows(path: Path, problem: Problem, options: LoadOptions) -> np.ndarray | None:
    """Which given labels are audit rows: those of earlier rounds (``audit.txt``) and the
    filled ``audit`` rows of the ``labels_from`` files (None: none)."""
    keys: set[str] = set()
    if (path / AUDIT_FILE).is_file():
        keys = set((path / AUDIT_FILE).read_text(encoding="utf-8").splitlines())
    for f in label_files(options):
        keys |= read_audit_rows(f)
    if not keys:
        return None
    names = np.asarray(problem.train.example_names(), dtype=object)
    mask = np.isin(names, list(keys)) & (problem.given >= 0)
    return mask if mask.any() else None


def open_problem(
    run: Run, config, *, progress: bool = False, check=None, labels_required: bool = True
) -> Problem:
    """Load the run's data (a saved split is reused) and create the run folder. In a
    distributed run rank 0 loads first (and builds any decoded-image cache) and creates the
    folder, then the others load (from the cache); an error on rank 0 stops every process
    with its message. ``check(problem)`` runs before the folder is created: settings that
    only the data can judge are refused with nothing written."""

    def load() -> Problem:
        options = with_kept_labels(run.path, config.load_options(progress=progress))
        problem = load_problem(
            config.dataset,
            options,
            n_labeled=config.n_labeled,
            seed=config.seed,
            subset=config.subset,
            validation_fraction=config.validation_fraction,
            split_path=run.path / "split.json",
            labels_required=labels_required,
        )
        problem = replace(problem, audit=audit_rows(run.path, problem, options))
        if check is not None:
            check(problem)
        run.create(problem)
        return problem

    first: list[Problem] = []
    distributed.from_main(lambda: first.append(load()))  # shares the outcome, not the data
    return first[0] if first else load()
