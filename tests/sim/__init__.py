"""Simulated crowds with known truth, encoded as Ground Truth delivers answers.

Test and benchmark helpers only: nothing here ships in the Lambda layer. One module per task family
(``segmentation``; classification and geometry crowds join as their tasks do).
"""
