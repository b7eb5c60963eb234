"""Properties of both votes on random small crowds (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tally.aggregation.pixel_vote import vote_image
from tally.aggregation.vote_table import IndexedMask, tabulate

ALGORITHMS = ("reliability", "majority")


@st.composite
def crowds(draw: st.DrawFn, min_workers: int = 1) -> tuple[list[np.ndarray], int]:
    height = draw(st.integers(2, 7))
    width = draw(st.integers(2, 7))
    n_classes = draw(st.integers(2, 4))
    n_workers = draw(st.integers(min_workers, 5))
    maps = [
        np.array(
            draw(st.lists(st.integers(0, n_classes - 1), min_size=height * width, max_size=height * width)), np.uint8
        ).reshape(height, width)
        for _ in range(n_workers)
    ]
    return maps, n_classes


def consolidate(maps: list[np.ndarray], n_classes: int, algorithm: str, names: list[str] | None = None) -> np.ndarray:
    return vote(maps, n_classes, algorithm, names)[0]


def vote(
    maps: list[np.ndarray], n_classes: int, algorithm: str, names: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The consolidated map and, for the reliability vote, its per-pixel confidence (0..255)."""
    lut = np.arange(n_classes, dtype=np.uint8)
    table = tabulate([IndexedMask(m, lut) for m in maps])
    image, result = vote_image(table, names or [f"w{k}" for k in range(len(maps))], n_classes, algorithm)
    return image, result.pixel_confidence


@settings(max_examples=150, deadline=None)
@given(crowds(), st.randoms(use_true_random=False), st.sampled_from(ALGORITHMS))
def test_the_order_of_the_workers_does_not_matter(crowd, random, algorithm) -> None:
    maps, n_classes = crowd
    names = [f"w{k}" for k in range(len(maps))]
    order = list(range(len(maps)))
    random.shuffle(order)
    first = consolidate(maps, n_classes, algorithm, names)
    shuffled = consolidate([maps[k] for k in order], n_classes, algorithm, [names[k] for k in order])
    assert np.array_equal(first, shuffled)


@settings(max_examples=100, deadline=None)
@given(crowds(), st.integers(1, 4), st.sampled_from(ALGORITHMS))
def test_unanimous_workers_give_their_own_mask(crowd, copies, algorithm) -> None:
    maps, n_classes = crowd
    assert np.array_equal(consolidate([maps[0]] * copies, n_classes, algorithm), maps[0])


@settings(max_examples=150, deadline=None)
@given(crowds(min_workers=2))
def test_a_worker_who_copies_the_consensus_does_not_change_the_plain_vote(crowd) -> None:
    maps, n_classes = crowd
    consensus = consolidate(maps, n_classes, "majority")
    assert np.array_equal(consolidate([*maps, consensus], n_classes, "majority"), consensus)


@settings(max_examples=150, deadline=None)
@given(crowds(min_workers=2))
def test_a_worker_who_copies_the_consensus_does_not_change_what_every_worker_agreed_on(crowd) -> None:
    """The reliability vote re-estimates every weight when a worker joins (leave-one-out accuracy
    against the others), so on tiny random crowds a newcomer may tip any pixel the workers disputed,
    even one the weighted vote had won by a wide margin; where every worker agreed, nothing moves."""
    maps, n_classes = crowd
    consensus = consolidate(maps, n_classes, "reliability")
    unanimous = np.all([m == maps[0] for m in maps], axis=0)
    assert np.array_equal(consensus[unanimous], maps[0][unanimous])
    again = consolidate([*maps, consensus], n_classes, "reliability")
    assert np.array_equal(again[unanimous], consensus[unanimous])


@settings(max_examples=100, deadline=None)
@given(crowds(), st.sampled_from(ALGORITHMS))
def test_output_has_the_input_shape_and_valid_class_keys(crowd, algorithm) -> None:
    maps, n_classes = crowd
    out = consolidate(maps, n_classes, algorithm)
    assert out.shape == maps[0].shape
    assert out.dtype == np.uint8
    assert int(out.max()) < n_classes
