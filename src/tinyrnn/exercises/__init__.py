"""Exercises: write a cell's step and its backward yourself, and have them checked.

``template(cell)`` is the file to fill in (the functions of ``tinyrnn.reference`` with their
bodies left to write); ``check_file(path)`` checks what is written against the reference and
names the first broken equation of docs/bptt.md; ``format_report`` prints that result.
"""

from .checker import check_file, format_report
from .diagnose import FUNCTIONS
from .template import CELLS, template

__all__ = ["template", "check_file", "format_report", "FUNCTIONS", "CELLS"]
