"""The ``tally`` command line (``pip install tally[cli]``): consolidate, preview, reconsolidate.

Nothing the Lambda handlers import reaches this package; it needs the ``cli`` extra (click, rich,
python-liquid), which the Lambda layer does not ship.
"""
