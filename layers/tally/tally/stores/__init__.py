"""Worker-store backends beyond the in-memory one in :mod:`tally.worker_store`: :mod:`.dynamodb`."""
