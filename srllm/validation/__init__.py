"""Checks of the study's own measurements: pure statistics over arrays and small frames.

Each module answers one question a reader of the results would ask, and takes the study's numbers
as arguments (nothing here loads a model or runs a generation):

- ``human``: do the automatic rewrite metrics agree with the 600 human-rated EMNLP 2021 rewrites?
- ``reference_aware``: the TextDetox 2024/2025 shared-task scores, which also use a human reference;
- ``retention``: is "knowledge retention" the same finding under different measures?
- ``erasure``: does a rewrite drop the group the input was about, or refuse, copy or go empty?
- ``truncation``: did generation stop because the token budget ran out?
- ``group_gap``: is the largest gap between small demographic groups more than noise?

Every result is deterministic given its seed and JSON-serialisable (Python floats, None for
undefined values), so it can be written to a run's metrics file as it is.
"""
