"""Dawid–Skene EM over a batch of classification answers: one confusion matrix per worker.

Single-label (:class:`DawidSkene`) and multi-label (:class:`MultiLabelDawidSkene`, the same model per
label on present/absent). numpy only, no I/O: answers come in as integer index arrays, one row per
answer, and the caller maps worker IDs and label names to indices.

The model (Dawid & Skene 1979) says each object has one true class ``k`` drawn from the class priors
``pi``, and worker ``w`` answers ``l`` with probability ``errors[w, k, l]`` (row ``k`` of the worker's
confusion matrix). EM alternates: the E-step computes each object's posterior over classes from the
priors and the confusion rows of the workers who answered it; the M-step re-estimates every
worker's confusion matrix from the expected counts and the priors from the posteriors.

What this implementation adds to the textbook model (AWS's "modified" Dawid–Skene does similar things,
see ``docs/classification.md``):

* **A Dirichlet prior on every confusion row**, leaning to the diagonal: ``prior_strength``
  pseudo-answers per row, a share ``prior_accuracy`` of them on the diagonal and the rest spread
  evenly. A worker the batch knows nothing about is presumed better than chance, and a worker seen on
  few objects is pulled toward that presumption. Confusion counts from earlier batches
  (``prior_counts``) are added as further pseudo-counts. Both are added in *every* M-step (crowd-kit's
  ``DawidSkene`` adds its ``initial_error`` only to the first one, so it is forgotten after one
  iteration); the estimate is the posterior mean ``(counts + alpha) / row sum``.
* **Smoothed class priors**: ``class_smoothing`` pseudo-objects per class.
* **Only objects with two or more answers teach the model.** A lone answer says nothing about its
  worker's confusion that is not already in the priors (the model is not identifiable from it, and
  EM's degenerate optima live there: with one worker per object EM "learns" whatever it starts
  from). So confusions and priors are estimated from the objects with at least two answers; objects
  with one answer are decided with what was learnt: ``posterior ∝ priors * errors[w, :, answer]``. A
  good worker's lone answer stands; a worker whose record says they call Dogs "Cat" has their lone
  "Cat" corrected; a worker without a record gets the prior, so their lone answer stands unless the
  class priors learnt from the batch are more lopsided than ``prior_accuracy`` against the rest of
  the row. In a batch where no object has two answers nothing is learnt and every lone answer stands.
* **Initialisation from the (weighted) majority**: the first E-step uses the prior confusions alone
  (equal for all workers unless ``prior_counts`` differ), which is a majority vote weighted by what
  earlier batches said about each worker.
* **A deterministic tie rule**: an object's label is the class with the largest posterior; classes
  within :data:`TIE_TOLERANCE` of it are tied, and the tie goes to the tied class with the larger
  class prior, then to the lower class index (:func:`resolve_ties`).

References:
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates using the EM
    algorithm", Applied Statistics 28(1), 1979.
    D. Ustalov et al., "Learning from crowds with Crowd-Kit", JOSS 2024 (``DawidSkene``).
    AWS, "Use the wisdom of crowds with Amazon SageMaker Ground Truth to annotate data more
    accurately", 2019 (the "modified Dawid–Skene" behind the built-in classification consolidation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["TIE_TOLERANCE", "DawidSkene", "MultiLabelDawidSkene", "resolve_ties"]

TIE_TOLERANCE = 1e-9
"""Posteriors (and priors) closer than this count as equal for the tie rule."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def resolve_ties(posteriors: FloatArray, priors: FloatArray, tol: float = TIE_TOLERANCE) -> IntArray:
    """Each row's class with the largest posterior; ties to the larger prior, then the lower index.

    Args:
        posteriors: ``(n_tasks, K)`` class probabilities.
        priors: ``(K,)`` class priors.
        tol: values closer than this are equal.

    Returns:
        ``(n_tasks,)`` class indices.

    Example:
        >>> import numpy as np
        >>> post = np.array([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [0.2, 0.4, 0.4]])
        >>> resolve_ties(post, np.array([0.2, 0.2, 0.6])).tolist()
        [0, 0, 2]
    """
    best = posteriors.max(axis=1, keepdims=True)
    tied = posteriors >= best - tol
    prior_of_tied = np.where(tied, priors[None, :], -np.inf)
    top_prior = prior_of_tied.max(axis=1, keepdims=True)
    # argmax returns the first (lowest-index) True
    return np.asarray(np.argmax(prior_of_tied >= top_prior - tol, axis=1), dtype=np.intp)


def _as_index(name: str, values: npt.ArrayLike, n: int) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    out = arr.astype(np.intp, copy=False)
    bad = int(np.count_nonzero((out < 0) | (out >= n)))
    if bad:
        raise ValueError(f"{bad} {name} are outside 0..{n - 1}; map IDs to indices below the given count")
    return out


@dataclass
class DawidSkene:
    """Single-label Dawid–Skene EM with a Dirichlet prior on each worker's confusion rows.

    See the module docstring for the model, the one-worker case and the tie rule.

    Example:
        Three workers, three objects, two classes (0 = Dog, 1 = Cat). Worker 2 always says Cat;
        on object 2 it is alone against nobody, so its record decides.

        >>> import numpy as np
        >>> ds = DawidSkene().fit(
        ...     tasks=[0, 0, 0, 1, 1, 1, 2],
        ...     workers=[0, 1, 2, 0, 1, 2, 2],
        ...     labels=[0, 0, 1, 1, 1, 1, 1],
        ...     n_tasks=3, n_workers=3, n_classes=2,
        ... )
        >>> ds.labels_.tolist()
        [0, 1, 1]
        >>> bool(ds.accuracies_[0] > ds.accuracies_[2])
        True
    """

    n_iter: int = 100
    """Maximum number of EM iterations (E-step + M-step)."""

    tol: float = 1e-6
    """Stop when no posterior changed by more than this in one iteration."""

    prior_strength: float = 4.0
    """Pseudo-answers per confusion row in the Dirichlet prior (how many answers a worker needs before
    their own record outweighs the presumption)."""

    prior_accuracy: float = 0.7
    """Share of each row's pseudo-answers on the diagonal: a new worker's presumed accuracy. The rest is
    spread evenly over the other classes."""

    class_smoothing: float = 1.0
    """Pseudo-objects added to every class when estimating the class priors."""

    posteriors_: FloatArray = field(init=False, repr=False)
    """``(n_tasks, K)`` posterior class probabilities. An object without answers gets the priors."""

    labels_: IntArray = field(init=False, repr=False)
    """``(n_tasks,)`` decided class per object (largest posterior, tie rule of :func:`resolve_ties`)."""

    errors_: FloatArray = field(init=False, repr=False)
    """``(n_workers, K, K)`` confusion matrices: ``errors_[w, k, l] = P(worker w answers l | true k)``."""

    priors_: FloatArray = field(init=False, repr=False)
    """``(K,)`` class priors."""

    counts_: FloatArray = field(init=False, repr=False)
    """``(n_workers, K, K)`` this batch's expected confusion counts (objects with two or more answers,
    under the final posteriors), without any prior: sum them over batches and pass the sum as the next
    batch's ``prior_counts``."""

    accuracies_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each worker's expected accuracy, ``sum_k priors_[k] * errors_[w, k, k]``."""

    informativeness_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` how much a worker's answer tells about the true class: the mutual information
    between true class and answer over the entropy of the priors, in [0, 1]. A spammer (same answer
    distribution whatever the truth) scores 0, a perfect worker 1, and so does a perfect swapper, whose
    answers are just as telling once decoded."""

    n_iter_: int = field(init=False, repr=False)
    """EM iterations run."""

    def fit(
        self,
        tasks: npt.ArrayLike,
        workers: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        n_tasks: int,
        n_workers: int,
        n_classes: int,
        prior_counts: npt.ArrayLike | None = None,
    ) -> DawidSkene:
        """Fit the model to one batch of answers (one row per answer).

        Args:
            tasks: object index of each answer, ``0..n_tasks-1``.
            workers: worker index of each answer, ``0..n_workers-1``.
            labels: answered class of each answer, ``0..n_classes-1``.
            n_tasks: number of objects (objects without answers are allowed).
            n_workers: number of workers.
            n_classes: number of classes ``K``.
            prior_counts: optional ``(n_workers, K, K)`` confusion pseudo-counts from earlier batches
                (e.g. the sum of their ``counts_``), added to the Dirichlet prior in every M-step.

        Returns:
            self
        """
        if n_classes < 1 or n_tasks < 0 or n_workers < 0:
            raise ValueError("n_classes must be at least 1, n_tasks and n_workers non-negative")
        t = _as_index("tasks", tasks, n_tasks)
        w = _as_index("workers", workers, n_workers)
        y = _as_index("labels", labels, n_classes)
        if not t.size == w.size == y.size:
            raise ValueError(f"tasks, workers and labels differ in length: {t.size}, {w.size}, {y.size}")
        k = n_classes
        alpha = self._alpha(n_workers, k, prior_counts)

        # Objects with two or more answers teach the model; lone answers are only decided.
        per_task = np.bincount(t, minlength=n_tasks)
        learn = per_task[t] >= 2
        learning_tasks = per_task >= 2

        errors = alpha / alpha.sum(axis=2, keepdims=True)
        priors = np.full(k, 1.0 / k)
        post = self._e_step(t, w, y, n_tasks, errors, priors)
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            counts = self._counts(t[learn], w[learn], y[learn], post, n_workers, k)
            errors = (counts + alpha) / (counts + alpha).sum(axis=2, keepdims=True)
            class_mass = post[learning_tasks].sum(axis=0) + self.class_smoothing
            priors = class_mass / class_mass.sum()
            new_post = self._e_step(t, w, y, n_tasks, errors, priors)
            self.n_iter_ += 1
            change = float(np.abs(new_post - post).max()) if post.size else 0.0
            post = new_post
            if change < self.tol:
                break

        self.posteriors_ = post
        self.priors_ = priors
        self.errors_ = errors
        self.labels_ = resolve_ties(post, priors)
        self.counts_ = self._counts(t[learn], w[learn], y[learn], post, n_workers, k)
        self.accuracies_ = np.einsum("k,wkk->w", priors, errors)
        self.informativeness_ = _informativeness(errors, priors)
        return self

    def fit_predict(
        self,
        tasks: npt.ArrayLike,
        workers: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        n_tasks: int,
        n_workers: int,
        n_classes: int,
        prior_counts: npt.ArrayLike | None = None,
    ) -> IntArray:
        """:meth:`fit`, then return ``labels_``."""
        self.fit(
            tasks,
            workers,
            labels,
            n_tasks=n_tasks,
            n_workers=n_workers,
            n_classes=n_classes,
            prior_counts=prior_counts,
        )
        return self.labels_

    def _alpha(self, n_workers: int, k: int, prior_counts: npt.ArrayLike | None) -> FloatArray:
        if not 0.0 <= self.prior_accuracy <= 1.0 or self.prior_strength <= 0 or self.class_smoothing < 0:
            raise ValueError("prior_accuracy must be in [0, 1], prior_strength > 0, class_smoothing >= 0")
        if k == 1:
            row = np.ones((1, 1))
        else:
            off = self.prior_strength * (1.0 - self.prior_accuracy) / (k - 1)
            row = np.full((k, k), off)
            np.fill_diagonal(row, self.prior_strength * self.prior_accuracy)
        alpha = np.broadcast_to(row, (n_workers, k, k)).astype(np.float64)
        if prior_counts is not None:
            extra = np.asarray(prior_counts, dtype=np.float64)
            if extra.shape != (n_workers, k, k):
                raise ValueError(f"prior_counts must have shape {(n_workers, k, k)}, got {extra.shape}")
            if (extra < 0).any() or not np.isfinite(extra).all():
                raise ValueError("prior_counts must be finite and non-negative")
            alpha = alpha + extra
        # a row with no mass anywhere (prior_accuracy 1 and K=1 cases are fine) cannot be normalised
        return np.maximum(alpha, 1e-12)

    @staticmethod
    def _e_step(
        t: IntArray, w: IntArray, y: IntArray, n_tasks: int, errors: FloatArray, priors: FloatArray
    ) -> FloatArray:
        k = priors.size
        log_err = np.log(errors)  # (W, K, K)
        per_answer = log_err[w, :, y]  # (n, K): log P(answer | true class k)
        logp = np.tile(np.log(priors), (n_tasks, 1))
        for c in range(k):
            logp[:, c] += np.bincount(t, weights=per_answer[:, c], minlength=n_tasks)
        logp -= logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)

    @staticmethod
    def _counts(t: IntArray, w: IntArray, y: IntArray, post: FloatArray, n_workers: int, k: int) -> FloatArray:
        counts = np.zeros((n_workers, k, k))
        cell = w * k + y
        for c in range(k):
            counts[:, c, :] = np.bincount(cell, weights=post[t, c], minlength=n_workers * k).reshape(n_workers, k)
        return counts


def _informativeness(errors: FloatArray, priors: FloatArray) -> FloatArray:
    joint = priors[None, :, None] * errors  # (W, K, K): P(true k, answer l)
    answer = joint.sum(axis=1, keepdims=True)  # (W, 1, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(joint > 0, joint / (priors[None, :, None] * answer), 1.0)
        mi = (joint * np.log(ratio)).sum(axis=(1, 2))
    entropy = float(-(priors[priors > 0] * np.log(priors[priors > 0])).sum())
    if entropy <= 0:
        return np.zeros(errors.shape[0])
    return np.asarray(np.clip(mi / entropy, 0.0, 1.0), dtype=np.float64)


@dataclass
class MultiLabelDawidSkene:
    """Multi-label Dawid–Skene: an independent binary :class:`DawidSkene` per label (absent/present).

    Each worker gets a 2×2 confusion matrix per label, learnt over the batch as in
    :class:`DawidSkene` (same prior, same one-worker rule). A label is present when its posterior is
    above 0.5; at exactly 0.5 the single-label tie rule applies (the larger prior, then absent).

    Example:
        Labels 0 and 1; three workers; worker 2 never ticks label 1.

        >>> import numpy as np
        >>> ml = MultiLabelDawidSkene().fit(
        ...     tasks=[0, 0, 0, 1, 1, 1],
        ...     workers=[0, 1, 2, 0, 1, 2],
        ...     label_sets=[[1, 1], [1, 1], [1, 0], [0, 1], [0, 1], [0, 0]],
        ...     n_tasks=2, n_workers=3,
        ... )
        >>> ml.labels_.astype(int).tolist()
        [[1, 1], [0, 1]]
    """

    n_iter: int = 100
    """Maximum number of EM iterations per label."""

    tol: float = 1e-6
    """Convergence tolerance on the posteriors."""

    prior_strength: float = 4.0
    """Pseudo-answers per confusion row (see :attr:`DawidSkene.prior_strength`)."""

    prior_accuracy: float = 0.7
    """A new worker's presumed accuracy on each label (see :attr:`DawidSkene.prior_accuracy`)."""

    class_smoothing: float = 1.0
    """Pseudo-objects per state (absent, present) in each label's prior."""

    posteriors_: FloatArray = field(init=False, repr=False)
    """``(n_tasks, L)`` probability that each label is present."""

    labels_: npt.NDArray[np.bool_] = field(init=False, repr=False)
    """``(n_tasks, L)`` decided label sets."""

    errors_: FloatArray = field(init=False, repr=False)
    """``(n_workers, L, 2, 2)`` per-label confusion matrices (index 0 absent, 1 present)."""

    priors_: FloatArray = field(init=False, repr=False)
    """``(L,)`` prior probability that each label is present."""

    counts_: FloatArray = field(init=False, repr=False)
    """``(n_workers, L, 2, 2)`` this batch's expected confusion counts (see :attr:`DawidSkene.counts_`)."""

    accuracies_: FloatArray = field(init=False, repr=False)
    """``(n_workers, L)`` expected accuracy per worker and label."""

    informativeness_: FloatArray = field(init=False, repr=False)
    """``(n_workers, L)`` see :attr:`DawidSkene.informativeness_`."""

    n_iter_: npt.NDArray[np.int_] = field(init=False, repr=False)
    """``(L,)`` EM iterations run per label."""

    def fit(
        self,
        tasks: npt.ArrayLike,
        workers: npt.ArrayLike,
        label_sets: npt.ArrayLike,
        *,
        n_tasks: int,
        n_workers: int,
        prior_counts: npt.ArrayLike | None = None,
    ) -> MultiLabelDawidSkene:
        """Fit one binary model per label.

        Args:
            tasks: object index of each answer.
            workers: worker index of each answer.
            label_sets: ``(n_answers, L)`` 0/1 matrix: which labels each answer ticked (an empty row is
                a valid answer: nothing applies).
            n_tasks: number of objects.
            n_workers: number of workers.
            prior_counts: optional ``(n_workers, L, 2, 2)`` pseudo-counts from earlier batches.

        Returns:
            self
        """
        sets = np.asarray(label_sets)
        if sets.ndim != 2:
            raise ValueError(f"label_sets must be a (n_answers, L) 0/1 matrix, got shape {sets.shape}")
        if sets.size and not np.isin(sets, (0, 1)).all():
            raise ValueError("label_sets must hold only 0 and 1")
        n_labels = sets.shape[1]
        extra = None if prior_counts is None else np.asarray(prior_counts, dtype=np.float64)
        if extra is not None and extra.shape != (n_workers, n_labels, 2, 2):
            raise ValueError(f"prior_counts must have shape {(n_workers, n_labels, 2, 2)}, got {extra.shape}")
        post = np.zeros((n_tasks, n_labels))
        decided = np.zeros((n_tasks, n_labels), dtype=bool)
        errors = np.zeros((n_workers, n_labels, 2, 2))
        counts = np.zeros((n_workers, n_labels, 2, 2))
        priors = np.zeros(n_labels)
        acc = np.zeros((n_workers, n_labels))
        info = np.zeros((n_workers, n_labels))
        iters = np.zeros(n_labels, dtype=np.int_)
        for j in range(n_labels):
            ds = DawidSkene(
                n_iter=self.n_iter,
                tol=self.tol,
                prior_strength=self.prior_strength,
                prior_accuracy=self.prior_accuracy,
                class_smoothing=self.class_smoothing,
            ).fit(
                tasks,
                workers,
                sets[:, j].astype(np.intp),
                n_tasks=n_tasks,
                n_workers=n_workers,
                n_classes=2,
                prior_counts=None if extra is None else extra[:, j],
            )
            post[:, j] = ds.posteriors_[:, 1]
            decided[:, j] = ds.labels_ == 1
            errors[:, j] = ds.errors_
            counts[:, j] = ds.counts_
            priors[j] = ds.priors_[1]
            acc[:, j] = ds.accuracies_
            info[:, j] = ds.informativeness_
            iters[j] = ds.n_iter_
        self.posteriors_ = post
        self.labels_ = decided
        self.errors_ = errors
        self.counts_ = counts
        self.priors_ = priors
        self.accuracies_ = acc
        self.informativeness_ = info
        self.n_iter_ = iters
        return self
