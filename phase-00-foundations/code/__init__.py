"""Phase 00, foundations: vectors, derivatives, gradient descent, probability, least squares.

This folder is the importable package `phase00` (see pyproject.toml), so later phases,
notebooks and tests write `from phase00.probability import softmax`.
"""

# The blog's figures and the settings its post describes, as (script, flags): redrawn into
# blog/figures/ by `python phase-00-foundations/code/figures.py --phase 00`.
BLOG_FIGURES: list[tuple[str, list[str]]] = [
    ("vectors", []),
    ("derivatives", []),
    ("gradient_descent", []),
    ("probability", []),
    ("linear_regression", []),
]


def with_learner_code(path: list[str], package: str) -> list[str]:
    """A phase package's search path, with the learner's own folder (my-code/phaseXX/) in front
    when `python -m workbook` asks for it (workbook/overlay.py says when; otherwise nothing
    changes). Every phase package's __init__.py ends with this call. An install made before the
    workbook existed cannot import it until `pip install -e ".[dev]"` is run again; the course's
    own code then runs as it is."""
    try:
        from workbook.overlay import overlay_path
    except ModuleNotFoundError:
        return path
    return overlay_path(path, package)


__path__ = with_learner_code(__path__, __name__)
