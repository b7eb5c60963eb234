"""Simulated crowds for free text: transcriptions and short answers with known truth.

Test and benchmark helpers only. A truth is a sentence of common English words (Zipf-distributed, with
capitals and punctuation) or, for short answers, one to three words (a street name, a product code, a
caption-like phrase). A simulated worker (:class:`TextWorker`) types it through their habits: character
typos, a misheard word (another word of the vocabulary), a skipped word, an extra word, a
confusable word everybody tends to mishear the same way (``confusion``: the crowd's errors then
coincide), case and punctuation slips (no error once normalised), and a lazy worker who stops typing
partway. A crowd (:data:`TEXT_CROWDS`) is a pool of workers of differing habits; every object is
answered by some of them, so the batch has the repeated workers that reliability needs. Answers come
as :data:`~tally.aggregation.text.Answer` pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tally.aggregation.text import Answer, normalize

__all__ = [
    "SHORT_CROWDS",
    "TEXT_CROWDS",
    "TextCrowd",
    "TextWorker",
    "short_batch",
    "transcription_batch",
    "word_errors",
]

_WORDS = """the of and to a in is it you that he was for on are with as i his they be at one have this from or
    had by word but what some we can out other were all there when up use your how said an each she which
    do their time if will way about many then them write would like so these her long make thing see him
    two has look more day could go come did number sound no most people my over know water than call first
    who may down side been now find any new work part take get place made live where after back little only
    round man year came show every good me give our under name very through just form sentence great think
    say help low line differ turn cause much mean before move right boy old too same tell does set three
    want air well also play small end put home read hand port large spell add even land here must big high
    such follow act why ask men change went light kind off need house picture try us again animal point
    mother world near build self earth father head stand own page should country found answer school grow
    study still learn plant cover food sun four between state keep eye never last let thought city tree
    cross farm hard start might story saw far sea draw left late run while press close night real life few
    north open seem together next white children begin got walk example ease paper group always music those
    both mark often letter until mile river car feet care second book carry took science eat room friend
    began idea fish mountain stop once base hear horse cut sure watch colour face wood main enough plain
    girl usual young ready above ever red list though feel talk bird soon body dog family direct pose leave
    song measure door product black short numeral class wind question happen complete ship area half rock
    order fire south problem piece told knew pass since top whole king space heard best hour better true
    during hundred five remember step early hold west ground interest reach fast verb sing listen six table
    travel less morning ten simple several vowel toward war lay against pattern slow centre love person
    money serve appear road map rain rule govern pull cold notice voice unit power town fine certain fly
    fall lead cry dark machine note wait plan figure star box noun field rest correct able pound done
    beauty drive stood contain front teach week final gave green oh quick develop ocean warm free minute
    strong special mind behind clear tail produce fact street inch multiply nothing course stay wheel full
    force blue object decide surface deep moon island foot system busy test record boat common gold
    possible plane stead dry wonder laugh thousand ago ran check game shape equate hot miss brought heat
    snow tire bring yes distant fill east paint language among"""
VOCABULARY = tuple(_WORDS.split())
"""About 500 common English words (the truth's and the misheard words' vocabulary)."""

CONFUSABLE = {
    "their": "there",
    "there": "their",
    "two": "to",
    "to": "too",
    "write": "right",
    "right": "write",
    "hear": "here",
    "here": "hear",
    "knew": "new",
    "new": "knew",
    "sea": "see",
    "see": "sea",
    "one": "won",
    "four": "for",
    "for": "four",
    "week": "weak",
    "piece": "peace",
    "plane": "plain",
    "plain": "plane",
    "road": "rode",
    "whole": "hole",
    "hour": "our",
    "our": "hour",
    "son": "sun",
    "sun": "son",
    "tail": "tale",
    "made": "maid",
    "red": "read",
    "read": "red",
    "wood": "would",
    "would": "wood",
}
"""Homophones: the word a worker who mishears a confusable word types instead."""

_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
_ZIPF = np.cumsum(1.0 / np.arange(1, len(VOCABULARY) + 1))


@dataclass(frozen=True)
class TextWorker:
    """How one simulated worker types what they hear or read."""

    typo: float = 0.02
    """Chance per word of one character typo (substitution, deletion, insertion or transposition)."""
    substitute: float = 0.01
    """Chance per word of typing another vocabulary word instead."""
    omit: float = 0.01
    """Chance per word of leaving it out."""
    insert: float = 0.005
    """Chance per word of an extra word after it (a repeat or another vocabulary word)."""
    confusion: float = 0.0
    """Chance per confusable word (:data:`CONFUSABLE`) of typing its homophone."""
    lazy: float = 0.0
    """Chance per answer of stopping at a random point in the second half of the text."""
    slips: float = 0.1
    """Chance per word of a case or punctuation slip (no error once normalised)."""

    def type(self, rng: np.random.Generator, truth: str) -> str:
        words = truth.split()
        if self.lazy and rng.random() < self.lazy and len(words) > 3:
            words = words[: int(rng.integers(len(words) // 2, len(words)))]
        out: list[str] = []
        for word in words:
            roll = rng.random()
            if roll < self.omit:
                continue
            core = word.strip(",.;:!?")
            tail = word[len(core) :]
            if core.lower() in CONFUSABLE and rng.random() < self.confusion:
                core = _same_case(core, CONFUSABLE[core.lower()])
            elif roll < self.omit + self.substitute:
                core = _same_case(core, _word(rng))
            if rng.random() < self.typo:
                core = _typo(rng, core)
            if rng.random() < self.slips:
                core, tail = (core.lower() if core[:1].isupper() else core.capitalize()), ""
            out.append(core + tail)
            if rng.random() < self.insert:
                out.append(word.strip(",.;:!?").lower() if rng.random() < 0.5 else _word(rng))
        return " ".join(out)


def _word(rng: np.random.Generator) -> str:
    """A vocabulary word as often as it occurs in the truths (a misheard or extra word is as likely to
    be a common word as the truth's words are)."""
    return str(VOCABULARY[int(np.searchsorted(_ZIPF, rng.random() * _ZIPF[-1]))])


def _same_case(model: str, word: str) -> str:
    return word.capitalize() if model[:1].isupper() else word


def _typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 2:
        return word + str(rng.choice(list(_KEYBOARD)))
    k = int(rng.integers(len(word)))
    kind = int(rng.integers(4))
    letter = str(rng.choice(list(_KEYBOARD)))
    if kind == 0:
        return word[:k] + letter + word[k + 1 :]
    if kind == 1:
        return word[:k] + word[k + 1 :]
    if kind == 2:
        return word[:k] + letter + word[k:]
    k = min(k, len(word) - 2)
    return word[:k] + word[k + 1] + word[k] + word[k + 2 :]


@dataclass(frozen=True)
class TextCrowd:
    """A pool of workers and how many of them answer each object."""

    workers: tuple[TextWorker, ...]
    answers: tuple[int, int]
    """Answers per object: uniformly between these two numbers (inclusive)."""


CAREFUL = TextWorker()
CARELESS = TextWorker(typo=0.15, substitute=0.08, omit=0.12, insert=0.05, slips=0.3)
TEXT_CROWDS: dict[str, TextCrowd] = {
    "careful-5": TextCrowd(
        (
            TextWorker(typo=0.01, omit=0.005),
            TextWorker(typo=0.03, substitute=0.01),
            TextWorker(typo=0.02, omit=0.02),
            TextWorker(typo=0.05, insert=0.01),
            TextWorker(typo=0.02, substitute=0.02, omit=0.01),
            TextWorker(typo=0.04, omit=0.01, insert=0.01),
            TextWorker(typo=0.02),
            TextWorker(typo=0.03, substitute=0.015, omit=0.015),
        ),
        (5, 5),
    ),
    "one-careless-3": TextCrowd(
        (TextWorker(typo=0.02), TextWorker(typo=0.04, omit=0.02), TextWorker(typo=0.03, substitute=0.02), CARELESS),
        (3, 3),
    ),
    "one-careless-5": TextCrowd(
        (
            TextWorker(typo=0.02),
            TextWorker(typo=0.04, omit=0.02),
            TextWorker(typo=0.03, substitute=0.02),
            TextWorker(typo=0.05, insert=0.01),
            TextWorker(typo=0.02, omit=0.01),
            CARELESS,
        ),
        (5, 5),
    ),
    "varied-3": TextCrowd(
        (
            TextWorker(typo=0.01),
            TextWorker(typo=0.06, substitute=0.03, omit=0.03),
            TextWorker(typo=0.1, omit=0.05, insert=0.02),
            TextWorker(typo=0.03, substitute=0.05),
            TextWorker(typo=0.02, omit=0.08),
            TextWorker(typo=0.08, substitute=0.01, insert=0.04),
        ),
        (3, 3),
    ),
    "homophones-5": TextCrowd(
        (
            TextWorker(typo=0.02, confusion=0.1),
            TextWorker(typo=0.03, confusion=0.3),
            TextWorker(typo=0.02, omit=0.02, confusion=0.5),
            TextWorker(typo=0.04, confusion=0.2),
            TextWorker(typo=0.03, substitute=0.02, confusion=0.4),
            TextWorker(typo=0.02, confusion=0.05),
        ),
        (5, 5),
    ),
    "lazy-and-careless-4": TextCrowd(
        (
            TextWorker(typo=0.02),
            TextWorker(typo=0.03, omit=0.02),
            TextWorker(typo=0.02, lazy=0.5),
            TextWorker(typo=0.04, substitute=0.02),
            CARELESS,
        ),
        (4, 4),
    ),
    "mixed-1to5": TextCrowd(
        (
            TextWorker(typo=0.01),
            TextWorker(typo=0.03, omit=0.02),
            TextWorker(typo=0.06, substitute=0.04),
            TextWorker(typo=0.02, lazy=0.3),
            TextWorker(typo=0.03, confusion=0.4),
            CARELESS,
        ),
        (1, 5),
    ),
}
"""Transcription crowds; short answers use the same workers (:func:`short_batch`)."""
SHORT_CROWDS = TEXT_CROWDS


def _sentence(rng: np.random.Generator, n_words: int) -> str:
    words = [_word(rng) for _ in range(n_words)]
    words[0] = words[0].capitalize()
    for k in range(3, n_words - 1, 7):
        if rng.random() < 0.5:
            words[k] += ","
    words[-1] += "."
    return " ".join(words)


def _assign(rng: np.random.Generator, crowd: TextCrowd) -> list[int]:
    low, high = crowd.answers
    count = int(rng.integers(low, high + 1))
    return sorted(rng.choice(len(crowd.workers), size=min(count, len(crowd.workers)), replace=False).tolist())


def transcription_batch(
    crowd: TextCrowd, n_objects: int, seed: int, words: tuple[int, int] = (20, 40)
) -> tuple[list[str], list[list[Answer]]]:
    """Truth sentences and each object's answers (``(worker, text)``, workers by pool index)."""
    rng = np.random.default_rng(seed)
    truths: list[str] = []
    objects: list[list[Answer]] = []
    for _ in range(n_objects):
        truth = _sentence(rng, int(rng.integers(words[0], words[1] + 1)))
        truths.append(truth)
        objects.append([(w, crowd.workers[w].type(rng, truth)) for w in _assign(rng, crowd)])
    return truths, objects


_STREETS = ("Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset")
_KINDS = ("St.", "Street", "Ave", "Avenue", "Road", "Lane", "Blvd")


def short_batch(crowd: TextCrowd, n_objects: int, seed: int) -> tuple[list[str], list[list[Answer]]]:
    """Short truths (a street address, a product code or two or three words) and their answers."""
    rng = np.random.default_rng(seed)
    truths: list[str] = []
    objects: list[list[Answer]] = []
    for _ in range(n_objects):
        kind = rng.random()
        if kind < 0.4:
            truth = f"{int(rng.integers(1, 999))} {rng.choice(_STREETS)} {rng.choice(_KINDS)}"
        elif kind < 0.6:
            letters = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ"), size=3))
            truth = f"{letters}-{int(rng.integers(100, 9999))}"
        else:
            truth = _sentence(rng, int(rng.integers(1, 4))).rstrip(".")
        truths.append(truth)
        objects.append([(w, crowd.workers[w].type(rng, truth)) for w in _assign(rng, crowd)])
    return truths, objects


def word_errors(hypothesis: str, truth: str) -> tuple[int, int]:
    """Word edit distance between the normalised texts, and the truth's number of words (for WER)."""
    hyp, ref = normalize(hypothesis).split(), normalize(truth).split()
    previous = list(range(len(ref) + 1))
    for i, word in enumerate(hyp, 1):
        current = [i] + [0] * len(ref)
        for j, other in enumerate(ref, 1):
            current[j] = min(previous[j - 1] + (word != other), previous[j] + 1, current[j - 1] + 1)
        previous = current
    return previous[-1], len(ref)
