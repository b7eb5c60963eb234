"""The worker store's examples, and the prior examples of span_vote and geometric, run as written."""

from __future__ import annotations

import doctest

from tally import worker_store
from tally.aggregation import geometric, span_vote


def test_worker_store_examples() -> None:
    result = doctest.testmod(worker_store)
    assert result.attempted >= 9 and result.failed == 0


def test_the_prior_examples_of_span_vote_and_geometric() -> None:
    for module, name in ((span_vote, "SpanVote.fit"), (geometric, "ItemConsolidation.fit")):
        finder = doctest.DocTestFinder()
        tests = [t for t in finder.find(module) if t.name.endswith(name)]
        assert len(tests) == 1 and tests[0].examples
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(tests[0])
        assert runner.summarize(verbose=False).failed == 0
