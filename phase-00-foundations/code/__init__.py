"""Phase 00, foundations: vectors, derivatives, gradient descent, probability, least squares.

This folder is the importable package `phase00` (see pyproject.toml), so later phases,
notebooks and tests write `from phase00.probability import softmax`.
"""
