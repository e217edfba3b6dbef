"""Human evaluation, as the paper did it: a blinded rating sheet out of a run, ratings back in,
agreement and per-system results in the book.

- ``scales``: the rating scales and their anchored definitions;
- ``ratings``: the generic long table of ratings (item, rater, scale, value), its loader and checks;
- ``agreement``: Fleiss' kappa, Krippendorff's alpha, pairwise agreement (reusable on any such table);
- ``export`` (``srllm human export``): the stratified, blinded sample, sheets, pages and key;
- ``page`` / ``page.html``: the offline rating page; ``protocol``: the written instructions;
- ``importer`` (``srllm human import``): completed sheets checked against the key and merged;
- ``analysis``: per-system scores, paired tests, metric correlations and power;
- ``report``: the book's human-evaluation page; ``emnlp``: the EMNLP 2021 ratings as an import.
"""
