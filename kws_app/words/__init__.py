"""Custom words: learn a new word from a few recordings on top of the shipped model's embedding.

Nothing here imports Qt or torch: the dialog, the command line and the tests all use the same
store, trainer and scorer.
"""
