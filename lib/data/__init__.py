"""The data stage: the author's writings in, `data/processed/` out.

corpus (read files into documents) -> cleaning (plain prose, with a report) -> chunking (model tokens) ->
prepare (split by document, pairs, write atomically with a manifest). `processed` is the one reader of
what it writes: training and the study read the data only through it.
"""
