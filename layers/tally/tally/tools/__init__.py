"""The ``tally`` command line (``pip install tally[cli]``): consolidate, reconsolidate, export, report,
preview (each command's module imported when it runs, :mod:`tally.tools.cli`).

Nothing the Lambda handlers import reaches this package; it needs the ``cli`` extra (click, rich,
python-liquid), which the Lambda layer does not ship.
"""
