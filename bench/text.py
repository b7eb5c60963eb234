"""Free-text benchmark: `make bench-text`. Prints Markdown tables for docs/text-and-lines.md.

1. Transcriptions on simulated crowds (tests/sim/text.py), by word error rate against the truth
   (normalised words: case, punctuation, NFKC): tally's ``TextVote`` (fitted: ROVER with worker
   weights and the batch's word prior), the same vote with equal weights and no word prior (plain
   ROVER on tally's alignment), the medoid (``mode="short"``: one worker's whole answer), crowd-kit's
   ``ROVER`` (its tokenizer: tally's normalised words), the best single worker of the pool (its WER
   over the objects it answered) and a random worker's answer (each object's first answer; the
   simulated answers come in no particular order). mixed-1to5 also on its objects with two answers or
   more (an object answered once is that worker's answer whatever the method).
2. Short answers (street addresses, product codes, one to three words): the share of objects whose
   consensus equals the truth after normalising, for tally's medoid, the majority of the normalised
   answers (a tie: the first given) and a random worker.
3. Time of fit + predict on 1,000 objects × 5 workers of short answers and of 30-word transcriptions:
   process CPU time and wall time, median of three runs.

The defaults were chosen on the tuning seeds 0–2 (``--tune`` prints the variants looked at); the report
seeds 100–109 were run once the parameters were frozen.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tally.aggregation.text import Answer, TextVote, normalize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.text import TEXT_CROWDS, short_batch, transcription_batch, word_errors  # noqa: E402

TUNING_SEEDS = (0, 1, 2)
REPORT_SEEDS = tuple(range(100, 110))
N_OBJECTS = 200

Method = Callable[[list[list[Answer]]], list[str]]


def tally(**params: object) -> Method:
    def run(objects: list[list[Answer]]) -> list[str]:
        return [v.text for v in TextVote(**params).fit_predict(objects)]  # type: ignore[arg-type]

    return run


def plain_rover(objects: list[list[Answer]]) -> list[str]:
    """tally's alignment and vote with equal weights and without the word prior (no fit)."""
    return [v.text for v in TextVote(mode="transcription", word_prior=0.0).predict(objects)]


def crowdkit_rover(objects: list[list[Answer]]) -> list[str]:
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]  # (bench deps)
    from crowdkit.aggregation import ROVER  # type: ignore[import-untyped,import-not-found,unused-ignore]

    frame = pd.DataFrame(
        [(o, w, text) for o, answers in enumerate(objects) for w, text in answers], columns=["task", "worker", "text"]
    )
    texts = ROVER(tokenizer=lambda s: normalize(s).split(), detokenizer=" ".join).fit_predict(frame)
    return [str(texts.get(o, "")) for o in range(len(objects))]


def first_answer(objects: list[list[Answer]]) -> list[str]:
    return [answers[0][1] if answers else "" for answers in objects]


def majority(objects: list[list[Answer]]) -> list[str]:
    out = []
    for answers in objects:
        counts = Counter(normalize(text) for _, text in answers)
        out.append(counts.most_common(1)[0][0] if counts else "")
    return out


TRANSCRIPTION_METHODS: dict[str, Method] = {
    "tally": tally(),
    "ROVER, equal weights": plain_rover,
    "medoid": tally(mode="short"),
    "crowd-kit ROVER": crowdkit_rover,
    "a random worker": first_answer,
}


def wer(texts: Sequence[str], truths: Sequence[str], keep: Sequence[bool] | None = None) -> float:
    errors = words = 0
    for k, (text, truth) in enumerate(zip(texts, truths, strict=True)):
        if keep is None or keep[k]:
            e, n = word_errors(text, truth)
            errors, words = errors + e, words + n
    return errors / max(words, 1)


def best_worker(objects: list[list[Answer]], truths: Sequence[str]) -> float:
    per: dict[int, list[int]] = {}
    for answers, truth in zip(objects, truths, strict=True):
        for worker, text in answers:
            e, n = word_errors(text, truth)
            per.setdefault(worker, [0, 0])
            per[worker][0] += e
            per[worker][1] += n
    return min(e / n for e, n in per.values() if n)


def transcriptions(seeds: Sequence[int], methods: dict[str, Method]) -> None:
    print(f"\n### Transcriptions: word error rate, seeds {seeds[0]}–{seeds[-1]} ({N_OBJECTS} objects each)\n")
    print("| crowd | " + " | ".join(methods) + " | best single worker |")
    print("|---|" + "---|" * (len(methods) + 1))
    for name, crowd in TEXT_CROWDS.items():
        sums: dict[str, list[float]] = {m: [] for m in methods}
        several: dict[str, list[float]] = {m: [] for m in methods}
        best: list[float] = []
        for seed in seeds:
            truths, objects = transcription_batch(crowd, N_OBJECTS, seed)
            keep = [len(a) >= 2 for a in objects]
            for method, run in methods.items():
                texts = run(objects)
                sums[method].append(wer(texts, truths))
                several[method].append(wer(texts, truths, keep))
            best.append(best_worker(objects, truths))
        cells = [f"{np.mean(v):.4f}" for v in sums.values()]
        print(f"| {name} | " + " | ".join(cells) + f" | {np.mean(best):.4f} |")
        if crowd.answers[0] < 2:
            cells = [f"{np.mean(v):.4f}" for v in several.values()]
            print(f"| {name}, objects with 2+ answers | " + " | ".join(cells) + " | |")


def short_answers(seeds: Sequence[int]) -> None:
    methods: dict[str, Method] = {"tally (medoid)": tally(), "majority": majority, "a random worker": first_answer}
    print(
        f"\n### Short answers: share right after normalising, seeds {seeds[0]}–{seeds[-1]} ({N_OBJECTS} objects each)\n"
    )
    print("| crowd | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for name, crowd in TEXT_CROWDS.items():
        right: dict[str, list[float]] = {m: [] for m in methods}
        for seed in seeds:
            truths, objects = short_batch(crowd, N_OBJECTS, seed)
            for method, run in methods.items():
                texts = run(objects)
                hits = [normalize(a) == normalize(t) for a, t in zip(texts, truths, strict=True)]
                right[method].append(sum(hits) / len(hits))
        print(f"| {name} | " + " | ".join(f"{np.mean(v):.3f}" for v in right.values()) + " |")


def speed() -> None:
    crowd = TEXT_CROWDS["careful-5"]
    _, short = short_batch(crowd, 1000, 7)
    _, long = transcription_batch(crowd, 1000, 7, words=(30, 30))
    print("\n### Time of fit + predict, 1,000 objects × 5 workers (median of 3 runs)\n")
    print("| answers | CPU s | wall s |")
    print("|---|---|---|")
    runs: dict[str, tuple[list[float], list[float]]] = {"short": ([], []), "30-word transcriptions": ([], [])}
    for _ in range(3):
        for name, objects in (("short", short), ("30-word transcriptions", long)):
            cpu, wall = time.process_time(), time.perf_counter()
            TextVote().fit(objects).predict(objects)
            runs[name][0].append(time.process_time() - cpu)
            runs[name][1].append(time.perf_counter() - wall)
    for name, (cpu_times, wall_times) in runs.items():
        print(f"| {name} | {statistics.median(cpu_times):.3f} | {statistics.median(wall_times):.3f} |")


def tune() -> None:
    variants: dict[str, Method] = {
        "default": tally(mode="transcription"),
        "word_prior 0": tally(mode="transcription", word_prior=0.0),
        "word_prior 0.3": tally(mode="transcription", word_prior=0.3),
        "word_prior 1": tally(mode="transcription", word_prior=1.0),
        "alternatives 3": tally(mode="transcription", alternatives=3.0),
        "alternatives 100": tally(mode="transcription", alternatives=100.0),
        "prior_strength 3": tally(mode="transcription", prior_strength=3.0),
    }
    transcriptions(TUNING_SEEDS, variants)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tune", action="store_true", help="print the variants on the tuning seeds only")
    parser.add_argument("--quick", action="store_true", help="one report seed, no crowd-kit")
    args = parser.parse_args()
    if args.tune:
        tune()
        return
    seeds = REPORT_SEEDS[:1] if args.quick else REPORT_SEEDS
    methods = dict(TRANSCRIPTION_METHODS)
    if args.quick:
        methods.pop("crowd-kit ROVER")
    transcriptions(seeds, methods)
    short_answers(seeds)
    speed()


if __name__ == "__main__":
    main()
