"""Ground Truth's Lambda contract, both directions: the only package that knows its field names.

* :mod:`.events` — the pre-annotation and consolidation events and the payload (pydantic models);
* :mod:`.answers` — a payload object's ``annotations`` → decoded worker answers, each bad one with a reason;
* :mod:`.response` — task type names, the response entry per object, and its size limit;
* :mod:`.sink` — the response fitted under that limit, and the reader that follows what it moved to S3.
"""
