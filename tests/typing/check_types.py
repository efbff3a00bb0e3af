"""The public API's static types, checked by ``mypy --strict`` from test_typing.py.

Not collected by pytest (no ``test_`` prefix). Each ``assert_type`` line fails the check
unless mypy infers exactly that type; reparam must be found as an installed, typed
package (py.typed and the _core.pyi stub shipped in the wheel).
"""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt

import reparam

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type

rng = reparam.default_rng(0)
assert_type(rng, reparam.Generator)
assert_type(reparam.__version__, str)

# One value (size and out None) is a Python float, whatever the dtype.
assert_type(rng.standard_normal(), float)
assert_type(rng.standard_normal(dtype=np.float32), float)
assert_type(rng.random(), float)

# Arrays are typed by their dtype.
assert_type(rng.standard_normal(3), npt.NDArray[np.float64])
assert_type(rng.standard_normal((2, 3), np.float64), npt.NDArray[np.float64])
assert_type(rng.standard_normal(3, dtype=np.float32), npt.NDArray[np.float32])
assert_type(rng.standard_normal(3, dtype="float32"), npt.NDArray[np.float32])
assert_type(rng.random(3), npt.NDArray[np.float64])
assert_type(rng.random(3, dtype=np.float32), npt.NDArray[np.float32])

# With out=, the array passed in comes back.
out32 = np.empty(3, dtype=np.float32)
out64 = np.empty(3, dtype=np.float64)
assert_type(rng.standard_normal(dtype=np.float32, out=out32), npt.NDArray[np.float32])
assert_type(rng.standard_normal(out=out64), npt.NDArray[np.float64])
