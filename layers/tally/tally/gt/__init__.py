"""Ground Truth's Lambda contract, both directions: the events, the answers and the response envelope
(each task type's label fields are its own package's, :mod:`tally.tasks.registry`).

* :mod:`.events` — the pre-annotation and consolidation events and the payload (pydantic models);
* :mod:`.answers` — a payload object's ``annotations`` → decoded worker answers, each bad one with a reason;
* :mod:`.response` — task type names, the response entry per object, and its size limit;
* :mod:`.sink` — the response fitted under that limit, and the reader that follows what it moved to S3.
"""
