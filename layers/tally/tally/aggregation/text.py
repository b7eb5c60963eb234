"""Consensus of free-text answers: the medoid for short answers, a word-level vote for transcriptions.

:class:`TextVote` is the batch model for ``crowd-input`` / ``crowd-text-area`` answers (captions,
transcriptions, OCR, corrected translations). Workers are integer indices; an object's answers are
``(worker, text)`` pairs (:data:`Answer`), one per worker who answered. A ``""`` given here is voted
like any text, but the text task and a form's text field leave empty answers out before the vote (they
are no evidence: :mod:`tally.tasks.free_text`); a field the worker left out is no answer either.

**Comparing texts.** Texts are compared, never rewritten: NFKC, case folded, punctuation stripped from
both ends of each word, whitespace collapsed (:func:`normalize`). Everything works on grapheme
clusters, so an accent, an emoji's skin tone, a ZWJ sequence or a flag is never split. Words are
separated by whitespace; scripts written without spaces (Chinese, Japanese, Thai, ...) count one
grapheme as one word.

**Short answers: the medoid** (``method == "medoid"``). The consensus is the answer closest to the
others: the answer ``i`` with the largest ``Σ_j w_j · (1 - d(i, j))``, where ``d`` is the edit distance
between the normalised texts over their graphemes divided by the longer one's length (two empty texts:
0), ``w_j`` the worker weights, and ``j`` runs over every answer including ``i``. The consensus is that
worker's text exactly as typed (of the answers equal to it after normalising, the spelling typed with
the most weight).

**Transcriptions: ROVER** (``method == "rover"``). Every answer is aligned word by word to a *backbone*,
the word-level medoid (as above, with the word edit distance), by edit distance: insertions and
deletions cost 1, a substitution of two different words ``1 - ½ J`` with ``J`` the Jaccard similarity of
their letters, so a typo lines up with its word rather than with a neighbour. Words the backbone lacks
are aligned among themselves in their gap. Each *slot* of the resulting word transition network gets
one vote per answer — a word, or nothing — decided in two steps: *is there a word* (the weight of the
answers with a word against the weight of those without: all typo variants of one word vote for its
presence), and if so *which* (the word with the most weight, plus ``word_prior × log(1 + its
occurrences in the batch)``, so a typo typed once loses a tie to the word it mangles). A slot that
nothing wins is dropped. So every worker's typos, omissions and insertions are outvoted word by word.
An answer that stops two backbone words or more before the backbone's end (a worker who gave up
typing) abstains after its last word instead of voting "nothing" there. A winning word is written as
its voters spelt it with the most weight (case, punctuation), with a space before it when most of its
voters' weight had one (a word that opened its answer abstains; without a vote, a space unless both
neighbours are of a script written without spaces).

**Which one** (``mode``): ``"short"`` or ``"transcription"`` force it; ``"auto"`` (default) uses ROVER
when the workers typed the same text — the word-level medoid (equal weights) has at least ``min_words``
words and the others' mean normalised word distance to it is at most ``max_divergence`` — and the
medoid otherwise: short answers, and captions that say the same in different words (a word vote
would splice different sentences together).

**Confidence** is the agreement: per slot, the winning choice's share of the voting weight
(:attr:`VotedText.word_confidence`); per object, ``Σ_j w_j s_j / Σ_j w_j`` over the answers'
similarity ``s_j`` to the consensus (:attr:`VotedText.agreement`): ``1 - d`` for the medoid; for ROVER
``1 -`` the answer's slots that differ from the winners, over the longer of the answer and the
consensus in words. Answers that all differ give a low confidence (three unrelated words: 1/3); one
answer, or answers all equal after normalising, give 1.

**Tie rule.** Between answers, or between the choices of a slot, of equal weight (within 1e-9): in a
slot, the backbone's choice; otherwise the answer of the heavier worker, then of the lower worker
index, then the earlier answer. A tie between spellings of one word goes the same way.

**Worker reliability** (:meth:`TextVote.fit`). On every object with two answers or more, each worker is
compared with the consensus of the *others* (leave-one-out): a short answer scores its similarity
``1 - d`` to the others' medoid; a transcription scores 1 per slot where its choice is the others'.
:attr:`TextVote.worker_statistics_` holds, per worker, ``(units compared, agreement sum)`` — additive
over batches. A worker's accuracy is that ratio shrunk toward the pooled one by ``prior_strength``
pseudo-units, and its weight the one-coin log-odds ``log(a / (1 - a)) + log(alternatives - 1)``: 0 for
a worker no better than picking one of ``alternatives`` words at random (floored at ``min_weight``).
``n_iter`` rounds, the first with the prior's weights (equal without one).

References:
    J. G. Fiscus, "A post-processing system to yield reduced word error rates: Recognizer Output Voting
    Error Reduction (ROVER)", IEEE ASRU 1997, https://doi.org/10.1109/ASRU.1997.659110 (the word
    transition network and its vote).
    D. Ustalov et al., crowd-kit's ``ROVER`` (https://crowd-kit.readthedocs.io/), the benchmark's peer.
    A. P. Dawid, A. M. Skene, "Maximum likelihood estimation of observer error-rates using the EM
    algorithm", Applied Statistics 28(1), 1979, https://doi.org/10.2307/2346806 (the one-coin weight).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from ._unicode_text import graphemes, normalize, tokens, unspaced, word_key

__all__ = ["Answer", "TextVote", "VotedText", "normalize", "similarity", "split_words"]

Answer = tuple[int, str]
"""One worker's answer to one object: ``(worker index, text)``."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Mode = Literal["auto", "short", "transcription"]

_EMPTY = -1  # the empty word: an answer with nothing in a slot
_ABSENT = -2  # no answer in this column (an object with fewer answers than the widest)
_ABSTAIN = -3  # after the end of an answer that was cut short: no vote, and no word
_TIE = 1e-9
_CHUNK = 4096  # pairs per block of the vectorised edit distance
_TYPO_CREDIT = 0.5  # an alignment's substitution of two different words costs 1 - this × their letters' Jaccard
_UNIT = 16  # the alignment's integer cost of an insertion or deletion
_NO_PRIORITY = np.iinfo(np.int64).max


@dataclass(frozen=True)
class VotedText:
    """The consensus of one object's answers."""

    text: str
    """The consensus ("" when the object had no answer, or nothing won)."""
    confidence: float
    """The weighted mean of :attr:`agreement` (module docstring); 0 without answers."""
    method: Literal["medoid", "rover"]
    """One worker's whole answer (``"medoid"``) or a word vote (``"rover"``)."""
    workers: tuple[int, ...]
    """The workers whose answer equals the consensus after normalising (sorted)."""
    agreement: tuple[float, ...]
    """Per answer, in the order given, its similarity to the consensus in [0, 1]."""
    words: tuple[str, ...] = ()
    """ROVER: the consensus words as written."""
    word_confidence: tuple[float, ...] = ()
    """ROVER: per word, its share of the voting weight."""
    differing: tuple[tuple[int, ...], ...] = ()
    """ROVER: per answer, in the order given, the indices of its words (as :func:`split_words` splits
    it) that the vote overruled: a typo, another word, or a word where the vote found nothing."""


@dataclass
class TextVote:
    """Consensus of free-text answers, worker-weighted: the medoid or a ROVER word vote (module docstring).

    Examples:
        Five workers transcribe one line; each makes a different mistake, and the vote outvotes each.

        >>> answers = [
        ...     (0, "The quick brown fox jumps over the lazy dog."),
        ...     (1, "the quick brown fox jumped over the lazy dog"),
        ...     (2, "The quick brwn fox jumps over the dog."),
        ...     (3, "The quick brown fox jumps over the lazy lazy dog."),
        ...     (4, "A quick brown fox jumps over the lazy dog."),
        ... ]
        >>> voted = TextVote().fit_predict([answers])[0]
        >>> voted.text, voted.method, round(voted.confidence, 3)
        ('The quick brown fox jumps over the lazy dog.', 'rover', 0.897)
        >>> voted.differing  # per answer, its words the vote overruled: jumped, brwn, the extra lazy, A
        ((), (4,), (2,), (7,), (0,))

        Short answers: the medoid, exactly as one worker typed it.

        >>> TextVote().fit_predict([[(0, "Main St."), (1, "main street"), (2, "Main St")]])[0].text
        'Main St.'
    """

    mode: Mode = "auto"
    """``"short"`` (medoid), ``"transcription"`` (ROVER) or ``"auto"``: per object (module docstring)."""
    min_words: int = 4
    """``"auto"``: the fewest words of the medoid for a word vote."""
    max_divergence: float = 0.5
    """``"auto"``: the largest mean normalised word distance of the answers to the medoid for a word vote."""
    word_prior: float = 0.5
    """ROVER: how much a word's frequency in the batch counts when choosing among a slot's words —
    ``word_prior × log(1 + occurrences)`` is added to its votes; 0: the votes alone."""
    prior_strength: float = 10.0
    """Pseudo-units (slots or short answers) of the pooled accuracy added to each worker's record."""
    alternatives: float = 10.0
    """The one-coin weight's number of alternatives: a worker of accuracy ``1 / alternatives`` weighs 0."""
    min_weight: float = 0.01
    """The least weight of a worker (an object answered only by such workers still has a vote)."""
    n_iter: int = 2
    """Rounds of consensus and re-weighting in :meth:`fit`."""

    worker_statistics_: FloatArray = field(init=False, repr=False)
    """``(n_workers, 2)``: this batch's ``(units compared, agreement sum)`` per worker, without the prior —
    sum them over batches and pass the sum as the next batch's ``prior``."""
    accuracy_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each worker's shrunk accuracy (prior and batch; NaN without any evidence)."""
    worker_weights_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each worker's vote weight; a worker beyond the array weighs :attr:`default_weight_`."""
    default_weight_: float = field(init=False, repr=False, default=1.0)
    """The weight of a worker the model has no record of (the pooled accuracy's; 1 before any evidence)."""

    _fitted: _Batch | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "short", "transcription"):
            raise ValueError(f"mode must be auto, short or transcription, not {self.mode!r}")
        if self.alternatives <= 1:
            raise ValueError(f"alternatives must be above 1, got {self.alternatives}")
        if self.prior_strength < 0 or self.min_weight <= 0 or self.word_prior < 0:
            raise ValueError("prior_strength and word_prior must be non-negative, min_weight positive")

    def fit(
        self,
        objects: Sequence[Sequence[Answer]],
        *,
        prior: npt.ArrayLike | None = None,
        known: Sequence[int | None] | None = None,
    ) -> TextVote:
        """Weigh every worker by its agreement with the others over the batch.

        Args:
            objects: per object, its ``(worker, text)`` answers.
            prior: optional ``(n, 2)`` per-worker statistics of earlier batches (the sum of their
                :attr:`worker_statistics_`), added to this batch's; they also give the first round's
                weights.
            known: optional, per object, the index in it of the answer that is its known truth (gold: an
                annotation the labelling tool marks as ground truth), ``None`` for an object without one.
                On a gold object every other answer is compared with the gold text alone, once, instead of
                with the others' consensus in every round: a short answer scores its similarity ``1 - d``
                to it (one unit), a transcription (the object voted word by word) the words it shares
                with it, ``(1 - word distance) × the longer's words`` over as many units; the gold
                answer, and the gold worker's other answers to it, are not judged. A gold object takes no
                part in the rounds; :meth:`predict` votes the objects it is given as ever.

        Returns:
            self

        Example:
            Worker 2 typed ``"kat"`` where two others typed ``"cat"``, five times: it weighs less, and
            where it alone disagrees with worker 0, worker 0's answer wins.

            >>> model = TextVote(mode="short").fit([[(0, "cat"), (1, "cat"), (2, "kat")]] * 5)
            >>> model.worker_statistics_.round(3).tolist()
            [[5.0, 5.0], [5.0, 5.0], [5.0, 3.333]]
            >>> model.predict([[(2, "mat"), (0, "hat")]])[0].text
            'hat'
        """
        gold = list(known) if known is not None else []
        taught = np.zeros((0, 2))
        if any(k is not None for k in gold):
            if len(gold) != len(objects):
                raise ValueError(f"known must have one entry per object ({len(objects)}), not {len(gold)}")
            taught = self._gold_statistics([(obj, k) for obj, k in zip(objects, gold, strict=True) if k is not None])
            objects = [obj for obj, k in zip(objects, gold, strict=True) if k is None]
        batch = _Batch.of(objects, self.mode, self.min_words, self.max_divergence)
        prior_stats = _as_prior(prior)
        n_workers = max(batch.n_workers, len(prior_stats), len(taught))
        stats = np.zeros((n_workers, 2))
        self._set_weights(prior_stats, n_workers)
        for _ in range(max(1, self.n_iter)):
            state = batch.consensus(self.worker_weights_, self.default_weight_, self.word_prior, statistics=True)
            stats = state.statistics(n_workers)
            stats[: len(taught)] += taught
            total = stats.copy()
            total[: len(prior_stats)] += prior_stats
            self._set_weights(total, n_workers)
        self.worker_statistics_ = stats
        self._fitted = batch
        return self

    def _gold_statistics(self, gold: Sequence[tuple[Sequence[Answer], int]]) -> FloatArray:
        """``(n_workers, 2)``: every other answer to each gold object compared with its gold text alone
        (:meth:`fit`'s ``known``). Only the distances to the gold answers are computed, and the word
        distances among the others where ``"auto"`` needs them to tell a transcription."""
        objects = [obj for obj, _ in gold]
        to = np.asarray([column for _, column in gold], dtype=np.int64)
        batch = _Batch.of(objects, self.mode, self.min_words, self.max_divergence, to=to)
        stats = np.zeros((batch.n_workers, 2))
        words = np.diff(batch.word_start)
        for o, (obj, column) in enumerate(gold):
            truth_worker = obj[column][0]
            start = int(batch.starts[o])
            for c, (w, _) in enumerate(obj):
                if c == column or w == truth_worker:
                    continue
                if batch.rover[o]:
                    units = float(max(words[start + c], words[start + column]))
                    agree = units * (1.0 - float(batch.word_distance[o, c, column]))
                else:
                    units, agree = 1.0, 1.0 - float(batch.char_distance[o, c, column])
                stats[w] += (units, agree)
        return stats

    def predict(self, objects: Sequence[Sequence[Answer]]) -> list[VotedText]:
        """The consensus of each object with the fitted weights (equal weights before :meth:`fit`).

        The preparation and alignments of :meth:`fit` are reused when ``objects`` are the very objects it
        was fitted on (the same lists, in order: with ``known``, the objects without a known answer).
        """
        fitted = self._fitted
        same = fitted is not None and (
            fitted.source is objects
            or (len(fitted.source) == len(objects) and all(a is b for a, b in zip(fitted.source, objects, strict=True)))
        )
        batch = fitted if same else None
        if batch is None:
            batch = _Batch.of(objects, self.mode, self.min_words, self.max_divergence)
        weights = getattr(self, "worker_weights_", np.zeros(0))
        return batch.consensus(weights, self.default_weight_, self.word_prior, statistics=False).results()

    def fit_predict(
        self, objects: Sequence[Sequence[Answer]], *, prior: npt.ArrayLike | None = None
    ) -> list[VotedText]:
        """:meth:`fit`, then :meth:`predict` on the same batch."""
        return self.fit(objects, prior=prior).predict(objects)

    def _set_weights(self, stats: FloatArray, n_workers: int) -> None:
        units = np.zeros(n_workers)
        agree = np.zeros(n_workers)
        units[: len(stats)] = stats[:, 0]
        agree[: len(stats)] = stats[:, 1]
        if units.sum() <= 0:
            self.accuracy_ = np.full(n_workers, np.nan)
            self.worker_weights_ = np.ones(n_workers)
            self.default_weight_ = 1.0
            return
        pooled = float(agree.sum() / units.sum())
        k = self.prior_strength
        accuracy = np.where(units + k > 0, (agree + k * pooled) / np.maximum(units + k, _TIE), pooled)
        self.accuracy_ = accuracy
        self.worker_weights_ = self._weight(accuracy)
        self.default_weight_ = float(self._weight(np.array([pooled]))[0])

    def _weight(self, accuracy: FloatArray) -> FloatArray:
        a = np.clip(accuracy, 1e-4, 1.0 - 1e-4)
        weight = np.log(a / (1.0 - a)) + math.log(self.alternatives - 1.0)
        return np.asarray(np.maximum(weight, self.min_weight), dtype=np.float64)


def similarity(a: str, b: str) -> float:
    """``1 - d`` of two texts: ``d`` their normalised grapheme edit distance, as the medoid compares
    answers (module docstring): 1 for texts equal after normalising, 0 for nothing in common."""
    _, distances = _char_distances([a, b], np.asarray([0, 2]), np.asarray([True]), 2)
    return 1.0 - float(distances[0, 0, 1])


def split_words(text: str) -> list[str]:
    """The words of ``text`` as the word vote sees them (:attr:`VotedText.differing` indexes them): split
    at whitespace, and every grapheme of a script written without spaces a word of its own.

    Examples:
        >>> split_words("Hello,  world!"), split_words("東京 tower")
        (['Hello,', 'world!'], ['東', '京', 'tower'])
    """
    return [word for word, _ in tokens(text)]


def _as_prior(prior: npt.ArrayLike | None) -> FloatArray:
    if prior is None:
        return np.zeros((0, 2))
    array = np.asarray(prior, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"prior must be an (n_workers, 2) array of non-negative numbers, got shape {array.shape}")
    return array


# ---------------------------------------------------------------------- preparing a batch
@dataclass
class _Grid:
    """The slots of the ROVER objects' word transition networks: rows sorted by object, then text order;
    columns are each object's answers in the order given."""

    obj: IntArray
    words: IntArray
    """``(n_slots, H)`` the flat index of the answer's word in the slot, or :data:`_EMPTY`,
    :data:`_ABSENT`, :data:`_ABSTAIN`."""
    backbone: IntArray
    """Per object, the backbone column its rows were aligned to (``-1``: no rows)."""

    @classmethod
    def empty(cls, n_objects: int, width: int) -> _Grid:
        return cls(
            np.zeros(0, dtype=np.int64), np.zeros((0, width), dtype=np.int64), np.full(n_objects, -1, dtype=np.int64)
        )


@dataclass
class _Batch:
    """A batch prepared once: words as integer ids, forms, pairwise distances, methods, alignments."""

    source: Sequence[Sequence[Answer]]
    texts: list[str]
    """Per answer (the objects' answers concatenated in the order given), its text."""
    worker: IntArray
    starts: IntArray
    """``(n_objects + 1,)`` where each object's answers start."""
    word_start: IntArray
    """``(n_answers + 1,)`` where each answer's words start in the flat word arrays."""
    flat_keys: IntArray
    flat_spellings: IntArray
    flat_spaced: npt.NDArray[np.int8]
    spelling_text: list[str]
    letters: npt.NDArray[np.uint64]
    """Per word key id, its letters as a 64-bit set (code point mod 64)."""
    log_frequency: FloatArray
    """Per word key id, ``log(1 + its occurrences in the batch's answers)``."""
    word_form: IntArray
    """Per answer, the id of its word-key sequence (equal ids: equal after normalising)."""
    char_form: IntArray
    """Per answer of a medoid object, the id of its normalised text (``-1`` elsewhere)."""
    word_distance: FloatArray
    """``(n_objects, H, H)`` normalised word edit distances (``H``: the most answers of an object)."""
    char_distance: FloatArray
    """``(n_objects, H, H)`` normalised grapheme edit distances of the medoid objects' answers."""
    rover: BoolArray
    """Per object, whether it is voted word by word."""
    n_workers: int
    grid: _Grid

    @property
    def n_objects(self) -> int:
        return len(self.starts) - 1

    @property
    def width(self) -> int:
        return int(self.word_distance.shape[1])

    @classmethod
    def of(
        cls,
        objects: Sequence[Sequence[Answer]],
        mode: Mode,
        min_words: int,
        max_divergence: float,
        to: IntArray | None = None,
    ) -> _Batch:
        """The batch prepared; with ``to`` (per object, one of its answers), the distances only from that
        answer to the others (:meth:`TextVote._gold_statistics`; ``"auto"``'s word distances all, to
        tell a transcription), the others among themselves left 0: such a batch is not for voting."""
        texts: list[str] = []
        workers: list[int] = []
        counts: list[int] = []
        for o, answers in enumerate(objects):
            counts.append(len(answers))
            for w, text in answers:
                if not isinstance(text, str):
                    raise TypeError(f"object {o}: worker {w}'s answer is a {type(text).__name__}, not text")
                if int(w) < 0:
                    raise ValueError(f"object {o}: worker index {w} is negative")
                texts.append(text)
                workers.append(int(w))
        starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
        words, spaced, lengths = _split(texts)
        seen: dict[str, int] = {}
        word_ids = np.array([seen.setdefault(word, len(seen)) for word in words], dtype=np.int64)
        spelling_text = list(seen)
        key_ids: dict[str, int] = {}
        key_of = np.array([key_ids.setdefault(word_key(word), len(key_ids)) for word in spelling_text], dtype=np.int64)
        flat_keys = key_of[word_ids] if len(word_ids) else np.zeros(0, dtype=np.int64)
        word_start = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
        word_form = _form_ids(flat_keys, word_start)
        width = max(counts, default=0)
        n_objects = len(objects)
        rover = np.zeros(n_objects, dtype=bool)
        word_distance = np.zeros((n_objects, width, width))
        if mode != "short":
            word_distance = _pairwise(
                starts, word_form, flat_keys, word_start, width, None, to=to if mode != "auto" else None
            )
            if mode == "transcription":
                rover[:] = True
            else:
                rover = _looks_transcribed(starts, word_form, word_start, word_distance, min_words, max_divergence)
        char_form, char_distance = _char_distances(texts, starts, ~rover, width, to)
        key_text = list(key_ids)
        return cls(
            source=objects,
            texts=texts,
            worker=np.asarray(workers, dtype=np.int64),
            starts=starts,
            word_start=word_start,
            flat_keys=flat_keys,
            flat_spellings=word_ids,
            flat_spaced=np.asarray(spaced, dtype=np.int8),
            spelling_text=spelling_text,
            letters=np.array([_letter_set(key) for key in key_text], dtype=np.uint64),
            log_frequency=np.log1p(np.bincount(flat_keys, minlength=len(key_text)).astype(np.float64)),
            word_form=word_form,
            char_form=char_form,
            word_distance=word_distance,
            char_distance=char_distance,
            rover=rover,
            n_workers=max(workers, default=-1) + 1,
            grid=_Grid.empty(n_objects, width),
        )

    def layout(self, weights: FloatArray, default: float) -> tuple[IntArray, FloatArray, IntArray]:
        """``(n_objects, H)``: answer index per column (``-1``: none), its worker's weight, and its tie
        priority (0 first: heavier worker, then lower worker index, then earlier answer)."""
        counts = np.diff(self.starts)
        col = np.arange(self.width)
        present = col[None, :] < counts[:, None]
        answer = np.where(present, self.starts[:-1, None] + col[None, :], -1)
        worker = np.where(present, self.worker[np.maximum(answer, 0)] if len(self.worker) else -1, -1)
        table = np.append(np.asarray(weights, dtype=np.float64), default)  # the last entry: unknown workers
        known = (worker >= 0) & (worker < len(weights))
        w = np.where(present, table[np.where(known, worker, len(weights))], 0.0)
        order = np.lexsort((np.broadcast_to(col, present.shape), np.where(present, worker, _NO_PRIORITY), -w))
        priority = np.empty_like(order)
        np.put_along_axis(priority, order, np.broadcast_to(col, present.shape).copy(), axis=1)
        return answer, w, priority

    def consensus(self, weights: FloatArray, default: float, word_prior: float, *, statistics: bool) -> _State:
        answer, w, priority = self.layout(weights, default)
        present = answer >= 0
        state = _State(self, answer, w, priority, word_prior)
        if (~self.rover).any():
            sim = 1.0 - self.char_distance
            state.medoid = _medoid(sim, w, priority, present)
            if statistics:
                state.loo_short = _leave_one_out_medoid(sim, w, priority, present)
        if self.rover.any():
            backbone = np.where(self.rover, _medoid(1.0 - self.word_distance, w, priority, present), -1)
            self._align(backbone)
            state.vote(statistics)
        return state

    def _align(self, backbone: IntArray) -> None:
        """Bring :attr:`grid` to these backbones, realigning only the objects whose backbone changed."""
        changed = np.flatnonzero(self.grid.backbone != backbone)
        if not len(changed):
            return
        old = self.grid
        keep = ~np.isin(old.obj, changed)
        new = _build_grid(self, changed, backbone)
        obj = np.concatenate([old.obj[keep], new.obj])
        order = np.argsort(obj, kind="stable")
        self.grid = _Grid(obj[order], np.concatenate([old.words[keep], new.words])[order], backbone.copy())

    def of_words(self, table: npt.NDArray[np.generic], words: IntArray, missing: int) -> npt.NDArray[np.generic]:
        """``table[words]`` where a word is there, ``missing`` elsewhere."""
        if not len(table):
            return np.full(words.shape, missing, dtype=table.dtype)
        return np.where(words >= 0, table[np.maximum(words, 0)], missing)

    def keys(self, words: IntArray) -> IntArray:
        """The word keys of grid cells (the codes :data:`_EMPTY`, :data:`_ABSENT`, :data:`_ABSTAIN` kept)."""
        return np.where(words >= 0, self.flat_keys[np.maximum(words, 0)] if len(self.flat_keys) else 0, words)


def _split(texts: Sequence[str]) -> tuple[list[str], list[int], list[int]]:
    """Every answer's words (flat), whether whitespace came before each (-1: the answer's first word),
    and each answer's number of words."""
    words: list[str] = []
    spaced: list[int] = []
    lengths: list[int] = []
    for text in texts:
        if text.isascii():
            found = text.split()
            words.extend(found)
            if found:
                spaced.append(-1)
                spaced.extend([1] * (len(found) - 1))
        else:
            pairs = tokens(text)
            found = [word for word, _ in pairs]
            words.extend(found)
            spaced.extend(-1 if k == 0 else int(flag) for k, (_, flag) in enumerate(pairs))
        lengths.append(len(found))
    return words, spaced, lengths


def _form_ids(flat: IntArray, start: IntArray) -> IntArray:
    """Per sequence ``flat[start[a]:start[a + 1]]``, an id shared by equal sequences."""
    forms: dict[tuple[int, ...], int] = {}
    values = flat.tolist()
    bounds = start.tolist()
    return np.array(
        [forms.setdefault(tuple(values[lo:hi]), len(forms)) for lo, hi in itertools.pairwise(bounds)],
        dtype=np.int64,
    )


def _letter_set(word: str) -> int:
    bits = 0
    for char in word:
        bits |= 1 << (ord(char) % 64)
    return bits


def _char_distances(
    texts: Sequence[str], starts: IntArray, chosen: BoolArray, width: int, to: IntArray | None = None
) -> tuple[IntArray, FloatArray]:
    """Per answer of the ``chosen`` objects, the id of its normalised text, and the ``(n_objects, H, H)``
    normalised grapheme edit distances between each chosen object's answers (with ``to``: as
    :func:`_pairwise`'s)."""
    char_form = np.full(len(texts), -1, dtype=np.int64)
    clusters: dict[str, int] = {}
    flat: list[int] = []
    bounds = [0]
    forms: dict[str, int] = {}
    for o in np.flatnonzero(chosen).tolist():
        for a in range(int(starts[o]), int(starts[o + 1])):
            text = normalize(texts[a])
            found = forms.get(text)
            if found is None:
                found = forms[text] = len(forms)
                pieces = list(text) if text.isascii() else graphemes(text)
                flat.extend(ord(p) if len(p) == 1 else 0x110000 + clusters.setdefault(p, len(clusters)) for p in pieces)
                bounds.append(len(flat))
            char_form[a] = found
    form_start = np.asarray(bounds, dtype=np.int64)
    flat_array = np.asarray(flat, dtype=np.int64)
    return char_form, _pairwise(starts, char_form, flat_array, form_start, width, chosen, by_form=True, to=to)


def _pairwise(
    starts: IntArray,
    form: IntArray,
    flat: IntArray,
    start: IntArray,
    width: int,
    chosen: BoolArray | None,
    *,
    by_form: bool = False,
    to: IntArray | None = None,
) -> FloatArray:
    """``(n_objects, width, width)`` normalised edit distances between the answers of each (chosen)
    object: equal forms 0, each pair of distinct forms computed once. A sequence is
    ``flat[start[x]:start[x + 1]]`` with ``x`` the form (``by_form``) or a representative answer. With
    ``to`` (per object, one of its answers): only the distances from that answer to the others, the others
    among themselves left 0."""
    n_objects = len(starts) - 1
    out = np.zeros((n_objects, width, width))
    counts = np.diff(starts)
    objects = np.arange(n_objects) if chosen is None else np.flatnonzero(chosen)
    first_parts: list[IntArray] = []
    second_parts: list[IntArray] = []
    for size in np.unique(counts[objects]).tolist():
        if size < 2:
            continue
        group = objects[counts[objects] == size]
        if to is None:
            i, j = np.triu_indices(size, k=1)
            first_parts.append((starts[group][:, None] + i[None, :]).ravel())
            second_parts.append((starts[group][:, None] + j[None, :]).ravel())
        else:  # the one answer, then each other answer of its object
            column = np.arange(size)
            first_parts.append(np.repeat(starts[group] + to[group], size - 1))
            second_parts.append((starts[group][:, None] + column[None, :])[column[None, :] != to[group][:, None]])
    if not first_parts:
        return out
    first, second = np.concatenate(first_parts), np.concatenate(second_parts)
    fa, fb = form[first], form[second]
    differ = fa != fb
    distance = np.zeros(len(first))
    if differ.any():
        pairs, inverse = np.unique(np.stack([fa[differ], fb[differ]], axis=1), axis=0, return_inverse=True)
        if by_form:
            at_a, at_b = pairs[:, 0], pairs[:, 1]
        else:  # a representative answer of each form
            representative = np.zeros(int(form.max()) + 1, dtype=np.int64)
            representative[form[::-1]] = np.arange(len(form))[::-1]
            at_a, at_b = representative[pairs[:, 0]], representative[pairs[:, 1]]
        len_a, len_b = start[at_a + 1] - start[at_a], start[at_b + 1] - start[at_b]
        raw = _edit_distances(flat, start[at_a], len_a, start[at_b], len_b)
        distance[differ] = (raw / np.maximum(np.maximum(len_a, len_b), 1))[inverse.ravel()]
    o = np.searchsorted(starts, first, side="right") - 1
    out[o, first - starts[o], second - starts[o]] = distance
    out[o, second - starts[o], first - starts[o]] = distance
    return out


def _gather(flat: IntArray, start: IntArray, length: IntArray, size: int, pad: int) -> IntArray:
    """``(len(start), size)``: each sequence ``flat[start:start + length]``, padded with ``pad``."""
    index = start[:, None] + np.arange(size)[None, :]
    inside = np.arange(size)[None, :] < length[:, None]
    values = flat[np.minimum(index, max(len(flat) - 1, 0))] if len(flat) else np.zeros(index.shape, dtype=np.int64)
    return np.where(inside, values, pad)


def _edit_distances(
    flat: IntArray, a_start: IntArray, a_len: IntArray, b_start: IntArray, b_len: IntArray
) -> FloatArray:
    """Levenshtein distance (unit costs) of each pair of sequences, vectorised over the pairs.

    Row by row of the dynamic programme; within a row the horizontal chain ``D[j] = min(T[j], D[j-1] + 1)``
    is ``cummin(T - j) + j``, so a row is a few array operations for every pair at once. Pairs are taken
    in blocks of similar length.
    """
    out = np.zeros(len(a_start))
    order = np.argsort(np.maximum(a_len, b_len), kind="stable")
    for begin in range(0, len(order), _CHUNK):
        rows = order[begin : begin + _CHUNK]
        la, lb = a_len[rows], b_len[rows]
        n, m = int(la.max(initial=0)), int(lb.max(initial=0))
        a = _gather(flat, a_start[rows], la, n, -4).T.copy()  # (positions, pairs): rows run along axis 0
        b = _gather(flat, b_start[rows], lb, m, -5).T.copy()
        dtype = np.int16 if n + m < 30000 else np.int64
        column = np.arange(m + 1, dtype=dtype)[:, None]
        current = np.broadcast_to(column, (m + 1, len(rows))).copy()
        trial = np.empty_like(current)
        cost = np.empty((m, len(rows)), dtype=dtype)
        result = lb.astype(np.float64)  # an empty first sequence
        pairs = np.arange(len(rows))
        for i in range(1, n + 1):
            trial[0] = i
            np.not_equal(a[i - 1], b, out=cost, casting="unsafe")
            cost += current[:-1]
            np.minimum(cost, current[1:] + 1, out=trial[1:])
            np.subtract(trial, column, out=trial)
            _running_min(trial, current)
            np.add(current, column, out=current)
            done = la == i
            if done.any():
                result[done] = current[lb[done], pairs[done]]
        out[rows] = result
    return out


def _running_min(values: npt.NDArray[np.generic], out: npt.NDArray[np.generic]) -> None:
    """``out[r] = min(values[:r + 1])`` along axis 0. numpy's ``minimum.accumulate`` along the first
    axis is several times slower than one ``minimum`` per row for the short rows here."""
    if len(values) > 256:
        np.minimum.accumulate(values, axis=0, out=out)
        return
    out[0] = values[0]
    for r in range(1, len(values)):
        np.minimum(out[r - 1], values[r], out=out[r])


def _looks_transcribed(
    starts: IntArray,
    form: IntArray,
    word_start: IntArray,
    distance: FloatArray,
    min_words: int,
    max_divergence: float,
) -> BoolArray:
    """Per object: the unweighted word medoid has ``min_words`` words or more and the others' mean
    distance to it is at most ``max_divergence``."""
    counts = np.diff(starts)
    width = distance.shape[1]
    if width == 0:  # no object has an answer
        return np.zeros(len(counts), dtype=bool)
    present = np.arange(width)[None, :] < counts[:, None]
    medoid = _medoid(
        1.0 - distance, present.astype(np.float64), np.broadcast_to(np.arange(width), present.shape), present
    )
    has = counts > 0
    answer = np.minimum(starts[:-1] + medoid, max(len(word_start) - 2, 0))
    words = (
        np.where(has, word_start[answer + 1] - word_start[answer], 0) if len(word_start) > 1 else np.zeros(len(counts))
    )
    spread = (distance[np.arange(len(counts)), medoid] * present).sum(axis=1) / np.maximum(counts - 1, 1)
    return np.asarray(has & (words >= min_words) & (spread <= max_divergence + _TIE), dtype=bool)


def _first_best(score: FloatArray, priority: npt.ArrayLike, valid: BoolArray) -> IntArray:
    """Index of the largest valid score along the last axis; ties (within 1e-9) to the lowest priority."""
    if np.shape(score)[-1] == 0:  # no answers at all
        return np.zeros(np.shape(score)[:-1], dtype=np.int64)
    masked = np.where(valid, score, -np.inf)
    best = masked.max(axis=-1, keepdims=True)
    tied = valid & (masked >= best - _TIE * np.maximum(1.0, np.abs(best)))
    return np.asarray(np.argmin(np.where(tied, np.asarray(priority), _NO_PRIORITY), axis=-1), dtype=np.int64)


def _medoid(sim: FloatArray, w: FloatArray, priority: IntArray, present: BoolArray) -> IntArray:
    """Per object, the column of the answer with the largest ``Σ_j w_j sim[i, j]``."""
    return _first_best(np.einsum("oij,oj->oi", sim, w), priority, present)


def _leave_one_out_medoid(sim: FloatArray, w: FloatArray, priority: IntArray, present: BoolArray) -> FloatArray:
    """``(n_objects, H)``: each answer's similarity to the medoid of the object's other answers (NaN when
    it has none, or is absent)."""
    score = np.einsum("oij,oj->oi", sim, w)
    without = score[:, None, :] - w[:, :, None] * np.swapaxes(sim, 1, 2)  # [o, h, i]: i's score without h
    width = sim.shape[1]
    valid = present[:, None, :] & ~np.eye(width, dtype=bool)[None, :, :]
    best = _first_best(without, np.broadcast_to(priority[:, None, :], without.shape), valid)
    out = np.take_along_axis(sim, best[:, :, None], axis=2)[:, :, 0]
    return np.where(present & (present.sum(axis=1, keepdims=True) >= 2), out, np.nan)


# ---------------------------------------------------------------------- alignment
def _alignment_moves(
    flat: IntArray,
    letters: npt.NDArray[np.uint64],
    h_start: IntArray,
    h_len: IntArray,
    b_start: IntArray,
    b_len: IntArray,
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """The alignment of each hypothesis to its backbone (module docstring's costs), as moves
    ``(pair, kind, i, j)``: kind 0, hypothesis word ``i`` in backbone slot ``j``; kind 1, hypothesis word
    ``i`` inserted before backbone word ``j``; kind 2, backbone word ``j`` with nothing from the
    hypothesis. Vectorised over the pairs like :func:`_edit_distances`, with a pointer per cell; on
    equal cost a substitution is preferred to an insertion, and both to a deletion."""
    parts: list[tuple[IntArray, ...]] = []
    order = np.argsort(np.maximum(h_len, b_len), kind="stable")
    for begin in range(0, len(order), _CHUNK):
        rows = order[begin : begin + _CHUNK]
        la, lb = h_len[rows], b_len[rows]
        p, n, m = len(rows), int(la.max(initial=0)), int(lb.max(initial=0))
        a = _gather(flat, h_start[rows], la, n, -4).T.copy()  # (positions, pairs): rows run along axis 0
        b = _gather(flat, b_start[rows], lb, m, -5).T.copy()
        mask_a, mask_b = letters[np.maximum(a, 0)], letters[np.maximum(b, 0)]
        size_a = np.bitwise_count(mask_a).astype(np.float32)
        size_b = np.bitwise_count(mask_b).astype(np.float32)
        # integer costs in 1/16: an insertion or deletion 16, a substitution 16 - round(8 J), a match 0
        dtype = np.int16 if (n + m) * _UNIT < 30000 else np.int64
        column = (np.arange(m + 1) * _UNIT).astype(dtype)[:, None]
        pointer = np.full((n + 1, m + 1, p), 2, dtype=np.int8)
        pointer[1:, 0] = 1
        current = np.broadcast_to(column, (m + 1, p)).copy()
        trial = np.empty_like(current)
        diagonal = np.empty((m, p), dtype=dtype)
        up = np.empty((m, p), dtype=dtype)
        left = np.empty((m, p), dtype=bool)
        for row in range(1, n + 1):
            common = np.bitwise_count(mask_a[row - 1] & mask_b).astype(np.float32)
            credit = np.rint(_UNIT * _TYPO_CREDIT * common / np.maximum(size_a[row - 1] + size_b - common, 1.0))
            np.subtract(_UNIT, credit, out=diagonal, casting="unsafe")
            diagonal[a[row - 1] == b] = 0
            diagonal += current[:-1]
            np.add(current[1:], _UNIT, out=up)
            trial[0] = row * _UNIT
            np.minimum(diagonal, up, out=trial[1:])
            np.subtract(trial, column, out=trial)
            _running_min(trial, current)
            np.add(trial, column, out=trial)
            np.add(current, column, out=current)
            np.less(current[1:], trial[1:], out=left)
            moves = pointer[row, 1:]
            np.greater(diagonal, up, out=moves, casting="unsafe")  # 1: the insertion is cheaper
            np.putmask(moves, left, 2)
        i_at, j_at = la.copy(), lb.copy()
        active = np.flatnonzero((i_at > 0) | (j_at > 0))
        while len(active):
            move = pointer[i_at[active], j_at[active], active].astype(np.int64)
            parts.append((rows[active], move, i_at[active] - 1, j_at[active] - (move != 1)))
            i_at[active] -= move != 2
            j_at[active] -= move != 1
            active = active[(i_at[active] > 0) | (j_at[active] > 0)]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    pair, kind, i, j = (np.concatenate([part[k] for part in parts]).astype(np.int64) for k in range(4))
    return pair, kind, i, j


def _build_grid(batch: _Batch, objects: IntArray, backbone: IntArray) -> _Grid:
    """Align every answer of each of ``objects`` to the object's backbone answer; their slot rows.

    Slots are the backbone's words plus, in each gap between them, the words other answers inserted
    there: one slot when no answer inserted more than one word in that gap, else the inserted runs
    aligned among themselves (:func:`_align_gap`). An answer equal to the backbone after normalising
    lines up word for word without a search."""
    width = batch.width
    starts, counts, ws = batch.starts, np.diff(batch.starts), batch.word_start
    objects = objects[counts[objects] > 0]
    sizes = counts[objects]
    back_col = backbone[objects]
    pair_obj = np.repeat(objects, sizes - 1)
    rank = np.arange(len(pair_obj)) - np.repeat(np.cumsum(sizes - 1) - (sizes - 1), sizes - 1)
    pair_col = rank + (rank >= np.repeat(back_col, sizes - 1))
    hyp = starts[pair_obj] + pair_col
    back = starts[pair_obj] + backbone[pair_obj]
    same = batch.word_form[hyp] == batch.word_form[back]
    search = np.flatnonzero(~same)
    pair, kind, i, j = _alignment_moves(
        batch.flat_keys,
        batch.letters,
        ws[hyp[search]],
        ws[hyp[search] + 1] - ws[hyp[search]],
        ws[back[search]],
        ws[back[search] + 1] - ws[back[search]],
    )
    pair = search[pair]
    equal = np.flatnonzero(same)
    n_equal = ws[hyp[equal] + 1] - ws[hyp[equal]]
    if len(equal):
        offset = np.arange(int(n_equal.sum())) - np.repeat(np.cumsum(n_equal) - n_equal, n_equal)
        pair = np.concatenate([pair, np.repeat(equal, n_equal)])
        kind = np.concatenate([kind, np.zeros(len(offset), dtype=np.int64)])
        i = np.concatenate([i, offset])
        j = np.concatenate([j, offset])
    event_obj, event_col = pair_obj[pair], pair_col[pair]
    event_word = ws[hyp[pair]] + i

    # the backbone's slots
    back_answer = starts[objects] + back_col
    back_len = ws[back_answer + 1] - ws[back_answer]
    first_row = np.zeros(batch.n_objects, dtype=np.int64)
    first_row[objects] = np.cumsum(back_len) - back_len
    n_back = int(back_len.sum())
    slot_obj = np.repeat(objects, back_len)
    slot_j = np.arange(n_back) - first_row[slot_obj]
    cells = np.where(np.arange(width)[None, :] < counts[slot_obj][:, None], _EMPTY, _ABSENT).astype(np.int64)
    cells[np.arange(n_back), backbone[slot_obj]] = ws[starts[slot_obj] + backbone[slot_obj]] + slot_j
    sub = kind == 0
    cells[first_row[event_obj[sub]] + j[sub], event_col[sub]] = event_word[sub]
    parts = [(slot_obj, 2 * slot_j + 1, np.zeros(n_back, dtype=np.int64), cells)]

    # the words inserted between them
    inserted = np.flatnonzero(kind == 1)
    if len(inserted):
        io, ig, ic, iw = event_obj[inserted], j[inserted], event_col[inserted], event_word[inserted]
        order = np.lexsort((iw, ic, ig, io))
        io, ig, ic, iw = io[order], ig[order], ic[order], iw[order]
        new_run = np.r_[True, (io[1:] != io[:-1]) | (ig[1:] != ig[:-1]) | (ic[1:] != ic[:-1])]
        run_id = np.cumsum(new_run) - 1
        single = np.bincount(run_id)[run_id] == 1  # the answer inserted one word in this gap
        new_gap = np.r_[True, (io[1:] != io[:-1]) | (ig[1:] != ig[:-1])]
        gap_id = np.cumsum(new_gap) - 1
        simple = np.ones(int(gap_id[-1]) + 1, dtype=bool)
        np.logical_and.at(simple, gap_id, single)
        easy = simple[gap_id]
        opens = new_gap & easy  # one slot per gap where every answer inserted at most one word
        g_obj = io[opens]
        g_cells = np.where(np.arange(width)[None, :] < counts[g_obj][:, None], _EMPTY, _ABSENT).astype(np.int64)
        g_cells[(np.cumsum(opens) - 1)[easy], ic[easy]] = iw[easy]
        parts.append((g_obj, 2 * ig[opens], np.zeros(len(g_obj), dtype=np.int64), g_cells))
        hard = np.flatnonzero(~easy)
        if len(hard):
            groups: dict[tuple[int, int], dict[int, list[int]]] = {}
            for o, g, c, w in zip(
                io[hard].tolist(), ig[hard].tolist(), ic[hard].tolist(), iw[hard].tolist(), strict=True
            ):
                groups.setdefault((o, g), {}).setdefault(c, []).append(w)
            for (o, g), runs in groups.items():
                slots = _align_gap(runs, batch.flat_keys)
                h_cells = np.where(np.arange(width) < counts[o], _EMPTY, _ABSENT)[None, :].repeat(len(slots), 0)
                for r, slot in enumerate(slots):
                    for c, w in slot.items():
                        h_cells[r, c] = w
                parts.append(
                    (
                        np.full(len(slots), o, dtype=np.int64),
                        np.full(len(slots), 2 * g, dtype=np.int64),
                        np.arange(len(slots), dtype=np.int64),
                        h_cells.astype(np.int64),
                    )
                )
    obj, major, minor, cells = (np.concatenate([part[k] for part in parts]) for k in range(4))
    order = np.lexsort((minor, major, obj))
    obj, major, cells = obj[order], major[order], cells[order]
    return _Grid(obj, _cut_short(cells, obj, major, backbone), backbone)


def _cut_short(keys: IntArray, slot_obj: IntArray, major: IntArray, backbone: IntArray) -> IntArray:
    """``keys`` with the empty votes after the last word of each answer (with a word) that stops two
    backbone words or more before the backbone's end turned into :data:`_ABSTAIN` (rows sorted by object and text order;
    backbone rows have odd ``major``)."""
    if not len(keys):
        return keys
    n_slots = len(keys)
    rows = np.arange(n_slots)
    opens = np.r_[True, slot_obj[1:] != slot_obj[:-1]]
    first = np.flatnonzero(opens)
    object_of_row = np.cumsum(opens) - 1
    end = np.r_[first[1:], n_slots] - 1
    is_back = (major % 2 == 1).astype(np.int64)
    after = np.cumsum(is_back[::-1])[::-1] - is_back  # backbone slots after each row, to the batch's end
    within = after - after[end][object_of_row]  # ... to its object's end
    last_word = np.maximum.reduceat(np.where(keys >= 0, rows[:, None], -1), first, axis=0)  # (objects, H)
    total = within[first] + is_back[first]
    remaining = np.where(last_word >= 0, within[np.maximum(last_word, 0)], total[:, None])
    cut = (remaining >= 2) & (last_word >= 0)  # an empty answer says "nothing here": it votes
    cut[np.arange(len(first)), backbone[slot_obj[first]]] = False
    stop = np.where(cut, last_word, n_slots)[object_of_row]  # (slots, H)
    out = keys.copy()
    out[(rows[:, None] > stop) & (keys == _EMPTY)] = _ABSTAIN
    return out


def _align_gap(runs: dict[int, list[int]], keys: IntArray) -> list[dict[int, int]]:
    """Slots for the words several answers inserted in one gap: the longest run (then the earliest
    column) opens the slots; every other run is aligned to the slots so far by edit distance (a word
    matches a slot holding its key), its unmatched words opening slots of their own. Each slot maps a
    column to the flat index of its word."""
    order = sorted(runs, key=lambda c: (-len(runs[c]), c))
    slots: list[dict[int, int]] = [{order[0]: w} for w in runs[order[0]]]
    for c in order[1:]:
        run = [int(keys[w]) for w in runs[c]]
        held = [{int(keys[w]) for w in slot.values()} for slot in slots]
        n, m = len(run), len(slots)
        cost = [[ii + jj if ii == 0 or jj == 0 else 0 for jj in range(m + 1)] for ii in range(n + 1)]
        for ii in range(1, n + 1):
            for jj in range(1, m + 1):
                cost[ii][jj] = min(
                    cost[ii - 1][jj - 1] + (run[ii - 1] not in held[jj - 1]), cost[ii - 1][jj] + 1, cost[ii][jj - 1] + 1
                )
        merged: list[dict[int, int]] = []
        ii, jj = n, m
        while ii > 0 or jj > 0:
            if ii > 0 and jj > 0 and cost[ii][jj] == cost[ii - 1][jj - 1] + (run[ii - 1] not in held[jj - 1]):
                merged.append({**slots[jj - 1], c: runs[c][ii - 1]})
                ii, jj = ii - 1, jj - 1
            elif ii > 0 and cost[ii][jj] == cost[ii - 1][jj] + 1:
                merged.append({c: runs[c][ii - 1]})
                ii -= 1
            else:
                merged.append(slots[jj - 1])
                jj -= 1
        slots = merged[::-1]
    return slots


def _slot_winner(
    keys: IntArray, w: FloatArray, priority: IntArray, valid: BoolArray, bonus: FloatArray
) -> tuple[IntArray, FloatArray]:
    """The winning column of each slot (last axis: the answers), and the weight of each column's choice.

    Is there a word (the weight of the answers with a word against those with nothing), and if so which
    (most weight plus ``bonus``). Ties: the choice of the column of lowest ``priority``."""
    same = (keys[..., :, None] == keys[..., None, :]) & valid[..., None, :]
    weight = np.where(valid, w, 0.0)
    score = np.einsum("...hk,...k->...h", same.astype(np.float64), weight)
    empty = valid & (keys == _EMPTY)
    empty_weight = np.where(empty, weight, 0.0).sum(axis=-1)
    word_weight = weight.sum(axis=-1) - empty_weight
    lead = np.argmin(np.where(valid, priority, _NO_PRIORITY), axis=-1)
    lead_is_word = np.take_along_axis(keys, lead[..., None], axis=-1)[..., 0] != _EMPTY
    scale = np.maximum(1.0, word_weight + empty_weight)
    close = np.abs(word_weight - empty_weight) <= _TIE * scale
    has_word = (word_weight > empty_weight + _TIE * scale) | (close & lead_is_word)
    best_word = _first_best(score + bonus, priority, valid & ~empty)
    best_empty = _first_best(score, priority, empty)
    return np.where(has_word, best_word, best_empty), score


# ---------------------------------------------------------------------- one round's consensus
@dataclass
class _State:
    """The consensus of a batch under one set of weights (and what the statistics need from it)."""

    batch: _Batch
    answer: IntArray
    """``(n_objects, H)`` answer index per column, ``-1`` past the object's answers."""
    w: FloatArray
    priority: IntArray
    word_prior: float
    medoid: IntArray | None = None
    loo_short: FloatArray | None = None
    keys: IntArray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    """The grid's word keys."""
    winner: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per slot of the batch's grid, the winning column."""
    share: FloatArray = field(default_factory=lambda: np.zeros(0))
    """Per slot, the winner's share of the voting weight."""
    loo_agree: BoolArray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    loo_valid: BoolArray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))

    def slot_priority(self, rows: IntArray) -> IntArray:
        grid = self.batch.grid
        obj = grid.obj[rows]
        priority = self.priority[obj] + 1
        priority[np.arange(len(obj)), grid.backbone[obj]] = 0
        return priority

    def vote(self, statistics: bool) -> None:
        """Vote every slot; with ``statistics``, also each answer's leave-one-out agreement."""
        grid = self.batch.grid
        self.keys = keys = self.batch.keys(grid.words)
        n_slots, width = keys.shape
        rows = np.arange(n_slots)
        voting = keys >= _EMPTY
        w = np.where(voting, self.w[grid.obj], 0.0)
        lead = grid.backbone[grid.obj]
        unanimous = ((keys == keys[rows, lead][:, None]) | ~voting).all(axis=1)
        self.winner = lead.copy()
        total = w.sum(axis=1)
        score = total.copy()
        hard = np.flatnonzero(~unanimous)
        if len(hard):
            hard_keys = keys[hard]
            bonus = np.where(hard_keys >= 0, self.word_prior * self.batch.log_frequency[np.maximum(hard_keys, 0)], 0.0)
            priority = self.slot_priority(hard)
            winner, scores = _slot_winner(hard_keys, w[hard], priority, voting[hard], bonus)
            self.winner[hard] = winner
            score[hard] = scores[np.arange(len(hard)), winner]
        self.share = np.divide(score, total, out=np.zeros(n_slots), where=total > 0)
        if not statistics:
            return
        self.loo_valid = voting & (voting.sum(axis=1, keepdims=True) >= 2)
        self.loo_agree = voting.copy()  # in a unanimous slot every voter agrees with the others
        if len(hard):
            valid = voting[hard][:, None, :] & ~np.eye(width, dtype=bool)[None, :, :]
            shape = valid.shape
            best, _ = _slot_winner(
                np.broadcast_to(hard_keys[:, None, :], shape),
                np.broadcast_to(w[hard][:, None, :], shape),
                np.broadcast_to(priority[:, None, :], shape),
                valid,
                np.broadcast_to(bonus[:, None, :], shape),
            )
            self.loo_agree[hard] = hard_keys == np.take_along_axis(hard_keys, best, axis=1)

    def statistics(self, n_workers: int) -> FloatArray:
        """``(n_workers, 2)`` units compared and agreement sum per worker (module docstring)."""
        stats = np.zeros((n_workers, 2))
        if self.loo_short is not None:
            ok = ~np.isnan(self.loo_short) & ~self.batch.rover[:, None]
            workers = self.batch.worker[self.answer[ok]]
            stats[:, 0] += np.bincount(workers, minlength=n_workers)[:n_workers]
            stats[:, 1] += np.bincount(workers, weights=self.loo_short[ok], minlength=n_workers)[:n_workers]
        if len(self.loo_valid):
            rows, cols = np.nonzero(self.loo_valid)
            workers = self.batch.worker[self.answer[self.batch.grid.obj[rows], cols]]
            stats[:, 0] += np.bincount(workers, minlength=n_workers)[:n_workers]
            agree = self.loo_agree[rows, cols].astype(np.float64)
            stats[:, 1] += np.bincount(workers, weights=agree, minlength=n_workers)[:n_workers]
        return stats

    # ------------------------------------------------------------------ results
    def results(self) -> list[VotedText]:
        batch = self.batch
        counts = np.diff(batch.starts)
        out: list[VotedText] = [
            VotedText("", 0.0, "rover" if rover else "medoid", (), ()) for rover in batch.rover.tolist()
        ]
        for o in np.flatnonzero(~batch.rover & (counts > 0)).tolist():
            out[o] = self._medoid_result(o)
        if batch.rover.any():
            self._rover_results(out)
        return out

    def _medoid_result(self, o: int) -> VotedText:
        assert self.medoid is not None
        batch = self.batch
        start, count = int(batch.starts[o]), int(batch.starts[o + 1] - batch.starts[o])
        best = int(self.medoid[o])
        form = batch.char_form[start + best]
        same = [c for c in range(count) if batch.char_form[start + c] == form]
        weight_of: dict[str, float] = {}
        for c in same:
            weight_of[batch.texts[start + c]] = weight_of.get(batch.texts[start + c], 0.0) + float(self.w[o, c])
        top = max(weight_of.values())
        tied = {text for text, weight in weight_of.items() if weight >= top - _TIE * max(1.0, top)}
        chosen = min((c for c in same if batch.texts[start + c] in tied), key=lambda c: int(self.priority[o, c]))
        agreement = 1.0 - batch.char_distance[o, best, :count]
        w = self.w[o, :count]
        confidence = float(np.dot(w, agreement) / w.sum()) if w.sum() > 0 else 0.0
        workers = tuple(sorted({int(batch.worker[start + c]) for c in same}))
        return VotedText(batch.texts[start + chosen], confidence, "medoid", workers, tuple(agreement.tolist()))

    def _rover_results(self, out: list[VotedText]) -> None:
        batch, grid, keys = self.batch, self.batch.grid, self.keys
        n_slots, width = keys.shape
        rows = np.arange(n_slots)
        voting = keys >= _EMPTY
        w = np.where(voting, self.w[grid.obj], 0.0)
        win_key = keys[rows, self.winner]
        member = voting & (keys == win_key[:, None])
        # the spelling: the one its voters typed with the most weight
        spellings = batch.of_words(batch.flat_spellings, grid.words, -1)
        spelling = spellings[rows, self.winner]
        mixed = np.flatnonzero(((spellings != spelling[:, None]) & member).any(axis=1))
        if len(mixed):
            sp, mem = spellings[mixed], member[mixed]
            same = (sp[:, :, None] == sp[:, None, :]) & mem[:, None, :]
            score = np.einsum("shk,sk->sh", same.astype(np.float64), w[mixed])
            spelling[mixed] = sp[np.arange(len(mixed)), _first_best(score, self.slot_priority(mixed), mem)]
        # a space before it when most of its voters' weight had one (a word that opened its answer abstains)
        spaced = batch.of_words(batch.flat_spaced, grid.words, -1)
        spaced_weight = (w * (member & (spaced == 1))).sum(axis=1)
        glued_weight = (w * (member & (spaced == 0))).sum(axis=1)
        is_word = win_key >= 0
        # per answer: its words the vote overruled, and how many slots it differs in
        lost = (grid.words >= 0) & ~member
        errors = np.zeros((batch.n_objects, width), dtype=np.int64)
        np.add.at(
            errors, grid.obj, ((keys != _ABSENT) & (np.where(keys == _ABSTAIN, _EMPTY, keys) != win_key[:, None]))
        )
        n_words = np.bincount(grid.obj[is_word], minlength=batch.n_objects)
        lost_words = np.sort(grid.words[lost])
        lost_answer = np.searchsorted(batch.word_start, lost_words, side="right") - 1
        lost_index = (lost_words - batch.word_start[lost_answer]).tolist()
        lost_bounds = np.searchsorted(lost_answer, np.arange(len(batch.texts) + 1)).tolist()
        word_rows = np.flatnonzero(is_word)
        text_of = [batch.spelling_text[x] for x in spelling[word_rows].tolist()]
        glue = _glue(
            text_of,
            spaced_weight[word_rows] >= glued_weight[word_rows] - _TIE,
            (spaced_weight + glued_weight)[word_rows] > 0,
        )
        pieces = [(" " + word if space else word) for word, space in zip(text_of, glue, strict=True)]
        objects = np.flatnonzero(batch.rover & (np.diff(batch.starts) > 0))
        ends = np.concatenate([objects, [batch.n_objects]])
        word_bounds: list[int] = np.searchsorted(grid.obj[word_rows], ends).tolist()
        share = self.share[word_rows].tolist()
        starts = batch.starts.tolist()
        lengths = np.diff(batch.word_start)
        for k, o in enumerate(objects.tolist()):
            start, stop = starts[o], starts[o + 1]
            count = stop - start
            lo, hi = word_bounds[k], word_bounds[k + 1]
            text = (text_of[lo] + "".join(pieces[lo + 1 : hi])) if hi > lo else ""
            longer = np.maximum(lengths[start:stop], n_words[o])
            agreement = np.maximum(np.where(longer > 0, 1.0 - errors[o, :count] / np.maximum(longer, 1), 1.0), 0.0)
            weights = self.w[o, :count]
            confidence = float(np.dot(weights, agreement) / weights.sum()) if weights.sum() > 0 else 0.0
            workers = batch.worker[start:stop].tolist()
            exact = tuple(sorted({workers[c] for c in range(count) if errors[o, c] == 0}))
            differing = tuple(tuple(lost_index[lost_bounds[a] : lost_bounds[a + 1]]) for a in range(start, stop))
            out[o] = VotedText(
                text,
                confidence,
                "rover",
                exact,
                tuple(agreement.tolist()),
                tuple(text_of[lo:hi]),
                tuple(share[lo:hi]),
                differing,
            )


def _glue(words: list[str], spaced: BoolArray, known: BoolArray) -> list[bool]:
    """Per word, whether a space goes before it: its voters' majority; without a vote, a space unless both
    it and the word before are of a script written without spaces."""
    out: list[bool] = spaced.tolist()
    for x in np.flatnonzero(~known).tolist():
        out[x] = x == 0 or not (unspaced(words[x - 1][-1]) and unspaced(words[x][0]))
    return out
