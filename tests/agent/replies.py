"""Scripted model replies for the calc project of tests/repos.py."""

from __future__ import annotations

REPRO_PATH = "tests/test_empty_average.py"

REPRODUCTION = f"""\
`average` divides by the length of the list, so an empty list raises ZeroDivisionError.

{REPRO_PATH}
```python
<<<<<<< SEARCH
=======
import os

from calc.ops import average


def test_average_of_empty_list_is_zero():
    print("environment:", sorted(os.environ.items()))
    assert average([]) == 0.0
>>>>>>> REPLACE
```
"""

NOT_REPRODUCING = f"""\
I think this works.

{REPRO_PATH}
<<<<<<< SEARCH
=======
from calc.ops import average


def test_average_of_one():
    assert average([4]) == 4
>>>>>>> REPLACE
"""

RIGHT_FIX = """\
Guard the empty list before dividing.

calc/ops.py
<<<<<<< SEARCH
def average(values):
    total = sum(values)
    return total / len(values)
=======
def average(values):
    if not values:
        return 0.0
    total = sum(values)
    return total / len(values)
>>>>>>> REPLACE
"""

# Indented differently from the file: applies through the whitespace-tolerant match.
RIGHT_FIX_DRIFTED = """\
calc/ops.py
<<<<<<< SEARCH
  total = sum(values)
  return total / len(values)
=======
  if not values:
      return 0.0
  total = sum(values)
  return total / len(values)
>>>>>>> REPLACE
"""

WRONG_FIX = """\
Dividing by at least one avoids the error.

calc/ops.py
<<<<<<< SEARCH
    return total / len(values)
=======
    return total / (len(values) + 1)
>>>>>>> REPLACE
"""

MALFORMED = """\
calc/ops.py
<<<<<<< SEARCH
    return total / len(values)
=======
    return total / len(values) if values else 0.0
"""

NOT_MATCHING = """\
calc/ops.py
<<<<<<< SEARCH
def mean(values):
    return sum(values) / len(values)
=======
def mean(values):
    return sum(values) / len(values) if values else 0.0
>>>>>>> REPLACE
"""

OUTSIDE = """\
../../outside/pwned.py
<<<<<<< SEARCH
=======
print("escaped")
>>>>>>> REPLACE
"""
