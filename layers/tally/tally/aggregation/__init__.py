"""Pure aggregation algorithms: numpy in, numpy out; no I/O, no Ground Truth field names.

One documented unit per algorithm (crowd-kit's style): parameters as attributes with docstrings,
fitted results with a trailing underscore, a reference and an example, under one contract per family
(:mod:`tally.aggregation.base`: ``fit(observations, prior) -> self``, ``predict``,
``worker_statistics_``). Task adapters in :mod:`tally.tasks` feed them and shape their results for
Ground Truth. Import from the submodules.
"""
