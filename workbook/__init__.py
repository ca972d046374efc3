"""The workbook: the learner writes the course's core pieces, and the course's tests check them.

`python -m workbook` is its command line (see workbook/__main__.py and my-code/README.md).
The exercises are cut from the reference code by the manifests in workbook/exercises/, so the
statement, the reference and the tests that check an exercise can never drift apart.
"""
