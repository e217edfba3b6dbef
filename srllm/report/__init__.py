"""Tables, figures and the book, by chapter: presentation only (no step imports anything from here)."""

import seaborn as sns

sns.set_theme(style="whitegrid", context="notebook")
