"""Dawid–Skene EM over a batch of classification answers: one confusion matrix per worker.

Single-label (:class:`DawidSkene`) and multi-label (:class:`MultiLabelDawidSkene`, the same model per
label on present/absent), the classification family of :mod:`tally.aggregation.base`. numpy only, no
I/O: answers come in as integer index arrays, one row per answer
(:class:`~tally.aggregation.base.ClassAnswers`, :class:`~tally.aggregation.base.LabelSetAnswers`),
and the caller maps worker IDs and label names to indices.

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
  (``prior``: the sum of their ``worker_statistics_``) are added as further pseudo-counts. Both are added in *every* M-step (crowd-kit's
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
  (equal for all workers unless ``prior`` counts differ), which is a majority vote weighted by what
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
from typing import Self

import numpy as np
import numpy.typing as npt

from .base import ClassAnswers, ClassificationAggregator, LabelSetAnswers

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


@dataclass
class DawidSkene(ClassificationAggregator[ClassAnswers]):
    """Single-label Dawid–Skene EM with a Dirichlet prior on each worker's confusion rows.

    See the module docstring for the model, the one-worker case and the tie rule. Fitted statistics:
    ``worker_statistics_``, this batch's ``(n_workers, K, K)`` expected confusion counts; a job's next
    batch takes their sum as ``prior``.

    Example:
        Three workers, three objects, two classes (0 = Dog, 1 = Cat). Worker 2 always says Cat;
        on object 2 it is alone against nobody, so its record decides.

        >>> import numpy as np
        >>> answers = ClassAnswers(
        ...     tasks=[0, 0, 0, 1, 1, 1, 2],
        ...     workers=[0, 1, 2, 0, 1, 2, 2],
        ...     labels=[0, 0, 1, 1, 1, 1, 1],
        ...     n_tasks=3, n_workers=3, n_classes=2,
        ... )
        >>> ds = DawidSkene().fit(answers)
        >>> ds.labels_.tolist()
        [0, 1, 1]
        >>> bool(ds.accuracies_[0] > ds.accuracies_[2]), ds.worker_evidence_.tolist()
        (True, [2.0, 2.0, 2.0])
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

    worker_statistics_: FloatArray = field(init=False, repr=False)
    """``(n_workers, K, K)`` this batch's expected confusion counts (objects with two or more answers,
    under the final posteriors), without the prior: sum them over batches and pass the sum as the next
    batch's ``prior``."""

    worker_evidence_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` the answers behind each worker's confusion matrix: their answers to objects with
    two or more answers, plus the prior's counts. 0: the matrix is the Dirichlet presumption alone, so
    :attr:`accuracies_` and :attr:`informativeness_` say nothing about the worker."""

    accuracies_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each worker's expected accuracy, ``sum_k priors_[k] * errors_[w, k, k]``."""

    informativeness_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` how much a worker's answer tells about the true class: the mutual information
    between true class and answer over the entropy of the priors, in [0, 1]. A spammer (same answer
    distribution whatever the truth) scores 0, a perfect worker 1, and so does a perfect swapper, whose
    answers are just as telling once decoded."""

    n_iter_: int = field(init=False, repr=False)
    """EM iterations run."""

    _fitted: ClassAnswers | None = field(default=None, init=False, repr=False, compare=False)

    def fit(
        self, observations: ClassAnswers, prior: npt.ArrayLike | None = None, known: npt.ArrayLike | None = None
    ) -> Self:
        """Fit the model to one batch of answers.

        Args:
            observations: the batch's answers (:class:`~tally.aggregation.base.ClassAnswers`).
            prior: optional ``(n_workers, K, K)`` confusion pseudo-counts from earlier batches (the sum
                of their :attr:`worker_statistics_`), added to the Dirichlet prior in every M-step.
            known: optional ``(n_tasks,)`` true class of each object whose truth is known (gold), ``-1``
                where it is not. A known object's posterior is that class in every E-step, so its
                answers measure their workers against the truth (a known object teaches even with one
                answer) and it is never outvoted.

        Returns:
            self

        Example:
            Worker 1 answers the opposite of the truth; four gold objects expose it, and its lone answer
            on object 4 is read through its record (without them, it would stand).

            >>> answers = ClassAnswers(tasks=[0, 0, 1, 1, 2, 2, 3, 3, 4], workers=[0, 1] * 4 + [1],
            ...                        labels=[0, 1, 1, 0, 0, 1, 1, 0, 1], n_tasks=5, n_workers=2, n_classes=2)
            >>> DawidSkene().fit(answers, known=[0, 1, 0, 1, -1]).labels_.tolist()
            [0, 1, 0, 1, 0]
            >>> DawidSkene().fit(answers).labels_.tolist()[4]
            1
        """
        t, w, y = observations.tasks, observations.workers, observations.labels
        n_tasks, n_workers, k = observations.n_tasks, observations.n_workers, observations.n_classes
        alpha = self._alpha(n_workers, k, prior)
        rows, truth = _known(known, n_tasks, k)

        # Objects with two or more answers (or a known truth) teach the model; lone answers are only decided.
        per_task = np.bincount(t, minlength=n_tasks)
        learning_tasks = per_task >= 2
        learning_tasks[rows] = per_task[rows] >= 1
        learn = learning_tasks[t]

        errors = alpha / alpha.sum(axis=2, keepdims=True)
        priors = np.full(k, 1.0 / k)
        post = _clamp(self._e_step(t, w, y, n_tasks, errors, priors), rows, truth)
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            counts = self._counts(t[learn], w[learn], y[learn], post, n_workers, k)
            errors = (counts + alpha) / (counts + alpha).sum(axis=2, keepdims=True)
            class_mass = post[learning_tasks].sum(axis=0) + self.class_smoothing
            priors = class_mass / class_mass.sum()
            new_post = _clamp(self._e_step(t, w, y, n_tasks, errors, priors), rows, truth)
            self.n_iter_ += 1
            change = float(np.abs(new_post - post).max()) if post.size else 0.0
            post = new_post
            if change < self.tol:
                break

        self.posteriors_ = post
        self.priors_ = priors
        self.errors_ = errors
        self.labels_ = resolve_ties(post, priors)
        self.worker_statistics_ = self._counts(t[learn], w[learn], y[learn], post, n_workers, k)
        earlier = np.zeros(n_workers) if prior is None else np.asarray(prior, dtype=np.float64).sum(axis=(1, 2))
        self.worker_evidence_ = np.bincount(w[learn], minlength=n_workers).astype(np.float64) + earlier
        self.accuracies_ = np.einsum("k,wkk->w", priors, errors)
        self.informativeness_ = _informativeness(errors, priors)
        self._fitted = observations
        return self

    def predict(self, observations: ClassAnswers) -> IntArray:
        """Every object's class: for the fitted answers, :attr:`labels_`; for other answers, the
        posterior under the fitted confusion matrices and class priors (a worker beyond the fitted ones
        gets the Dirichlet presumption), with the same tie rule. Nothing is learnt from them."""
        if observations is self._fitted:
            return self.labels_
        k = self.priors_.size
        if observations.n_classes != k:
            raise ValueError(f"the model has {k} classes, the answers {observations.n_classes}")
        errors = self.errors_
        extra = observations.n_workers - errors.shape[0]
        if extra > 0:
            alpha = self._alpha(extra, k, None)
            errors = np.concatenate([errors, alpha / alpha.sum(axis=2, keepdims=True)])
        t, w, y = observations.tasks, observations.workers, observations.labels
        return resolve_ties(self._e_step(t, w, y, observations.n_tasks, errors, self.priors_), self.priors_)

    def _alpha(self, n_workers: int, k: int, prior: npt.ArrayLike | None) -> FloatArray:
        if not 0.0 <= self.prior_accuracy <= 1.0 or self.prior_strength <= 0 or self.class_smoothing < 0:
            raise ValueError("prior_accuracy must be in [0, 1], prior_strength > 0, class_smoothing >= 0")
        if k == 1:
            row = np.ones((1, 1))
        else:
            off = self.prior_strength * (1.0 - self.prior_accuracy) / (k - 1)
            row = np.full((k, k), off)
            np.fill_diagonal(row, self.prior_strength * self.prior_accuracy)
        alpha = np.broadcast_to(row, (n_workers, k, k)).astype(np.float64)
        if prior is not None:
            extra = np.asarray(prior, dtype=np.float64)
            if extra.shape != (n_workers, k, k):
                raise ValueError(f"prior must have shape {(n_workers, k, k)}, got {extra.shape}")
            if (extra < 0).any() or not np.isfinite(extra).all():
                raise ValueError("prior must be finite and non-negative")
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


def _known(known: npt.ArrayLike | None, n_tasks: int, k: int) -> tuple[IntArray, IntArray]:
    """The objects whose class is known and that class, from ``known`` (``-1``: not known)."""
    if known is None:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    given = np.asarray(known, dtype=np.intp)
    if given.shape != (n_tasks,) or (given >= k).any() or (given < -1).any():
        raise ValueError(f"known must have shape ({n_tasks},) with classes -1..{k - 1}")
    rows = np.flatnonzero(given >= 0)
    return rows, given[rows]


def _clamp(post: FloatArray, rows: IntArray, truth: IntArray) -> FloatArray:
    """The posteriors with each known object's set to its class."""
    if rows.size:
        post[rows] = 0.0
        post[rows, truth] = 1.0
    return post


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
class MultiLabelDawidSkene(ClassificationAggregator[LabelSetAnswers]):
    """Multi-label Dawid–Skene: an independent binary :class:`DawidSkene` per label (absent/present).

    Each worker gets a 2×2 confusion matrix per label, learnt over the batch as in
    :class:`DawidSkene` (same prior, same one-worker rule). A label is present when its posterior is
    above 0.5; at exactly 0.5 the single-label tie rule applies (the larger prior, then absent).
    Fitted statistics: ``worker_statistics_``, this batch's ``(n_workers, L, 2, 2)`` expected confusion
    counts; a job's next batch takes their sum as ``prior``.

    Example:
        Labels 0 and 1; three workers; worker 2 never ticks label 1.

        >>> import numpy as np
        >>> answers = LabelSetAnswers(
        ...     tasks=[0, 0, 0, 1, 1, 1],
        ...     workers=[0, 1, 2, 0, 1, 2],
        ...     label_sets=[[1, 1], [1, 1], [1, 0], [0, 1], [0, 1], [0, 0]],
        ...     n_tasks=2, n_workers=3,
        ... )
        >>> MultiLabelDawidSkene().fit_predict(answers).astype(int).tolist()
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

    worker_statistics_: FloatArray = field(init=False, repr=False)
    """``(n_workers, L, 2, 2)`` this batch's expected confusion counts, without the prior (see
    :attr:`DawidSkene.worker_statistics_`)."""

    worker_evidence_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` the answers behind each worker's matrices (see :attr:`DawidSkene.worker_evidence_`;
    the prior's counts are per label, so they count here divided by the number of labels)."""

    accuracies_: FloatArray = field(init=False, repr=False)
    """``(n_workers, L)`` expected accuracy per worker and label."""

    informativeness_: FloatArray = field(init=False, repr=False)
    """``(n_workers, L)`` see :attr:`DawidSkene.informativeness_`."""

    n_iter_: npt.NDArray[np.int_] = field(init=False, repr=False)
    """``(L,)`` EM iterations run per label."""

    _models: list[DawidSkene] = field(default_factory=list, init=False, repr=False, compare=False)
    _fitted: LabelSetAnswers | None = field(default=None, init=False, repr=False, compare=False)

    def fit(
        self, observations: LabelSetAnswers, prior: npt.ArrayLike | None = None, known: npt.ArrayLike | None = None
    ) -> Self:
        """Fit one binary model per label.

        Args:
            observations: the batch's answers (:class:`~tally.aggregation.base.LabelSetAnswers`).
            prior: optional ``(n_workers, L, 2, 2)`` pseudo-counts from earlier batches (the sum of their
                :attr:`worker_statistics_`).
            known: optional ``(n_tasks, L)``: ``1`` a label known present, ``0`` known absent, ``-1`` not
                known (gold objects: see :meth:`DawidSkene.fit`).

        Returns:
            self
        """
        sets = observations.label_sets
        n_tasks, n_workers, n_labels = observations.n_tasks, observations.n_workers, observations.n_labels
        extra = None if prior is None else np.asarray(prior, dtype=np.float64)
        if extra is not None and extra.shape != (n_workers, n_labels, 2, 2):
            raise ValueError(f"prior must have shape {(n_workers, n_labels, 2, 2)}, got {extra.shape}")
        truth = None if known is None else np.asarray(known, dtype=np.intp)
        if truth is not None and truth.shape != (n_tasks, n_labels):
            raise ValueError(f"known must have shape {(n_tasks, n_labels)}, got {truth.shape}")
        post = np.zeros((n_tasks, n_labels))
        decided = np.zeros((n_tasks, n_labels), dtype=bool)
        errors = np.zeros((n_workers, n_labels, 2, 2))
        counts = np.zeros((n_workers, n_labels, 2, 2))
        priors = np.zeros(n_labels)
        acc = np.zeros((n_workers, n_labels))
        info = np.zeros((n_workers, n_labels))
        iters = np.zeros(n_labels, dtype=np.int_)
        evidence = np.zeros(n_workers)
        self._models = []
        for j in range(n_labels):
            answers = ClassAnswers(
                observations.tasks,
                observations.workers,
                sets[:, j].astype(np.intp),
                n_tasks=n_tasks,
                n_workers=n_workers,
                n_classes=2,
            )
            ds = self._binary().fit(
                answers, None if extra is None else extra[:, j], None if truth is None else truth[:, j]
            )
            self._models.append(ds)
            post[:, j] = ds.posteriors_[:, 1]
            decided[:, j] = ds.labels_ == 1
            errors[:, j] = ds.errors_
            counts[:, j] = ds.worker_statistics_
            priors[j] = ds.priors_[1]
            acc[:, j] = ds.accuracies_
            info[:, j] = ds.informativeness_
            iters[j] = ds.n_iter_
            evidence += ds.worker_evidence_
        self.posteriors_ = post
        self.labels_ = decided
        self.errors_ = errors
        self.worker_statistics_ = counts
        self.worker_evidence_ = evidence / n_labels if n_labels else evidence
        self.priors_ = priors
        self.accuracies_ = acc
        self.informativeness_ = info
        self.n_iter_ = iters
        self._fitted = observations
        return self

    def _binary(self) -> DawidSkene:
        return DawidSkene(
            n_iter=self.n_iter,
            tol=self.tol,
            prior_strength=self.prior_strength,
            prior_accuracy=self.prior_accuracy,
            class_smoothing=self.class_smoothing,
        )

    def predict(self, observations: LabelSetAnswers) -> npt.NDArray[np.bool_]:
        """Every object's label set: for the fitted answers, :attr:`labels_`; for other answers, each
        label's fitted binary model decides (see :meth:`DawidSkene.predict`)."""
        if observations is self._fitted:
            return self.labels_
        if observations.n_labels != len(self._models):
            raise ValueError(f"the model has {len(self._models)} labels, the answers {observations.n_labels}")
        decided = np.zeros((observations.n_tasks, observations.n_labels), dtype=bool)
        for j, ds in enumerate(self._models):
            answers = ClassAnswers(
                observations.tasks,
                observations.workers,
                observations.label_sets[:, j].astype(np.intp),
                n_tasks=observations.n_tasks,
                n_workers=observations.n_workers,
                n_classes=2,
            )
            decided[:, j] = ds.predict(answers) == 1
        return decided
