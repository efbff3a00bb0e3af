# Type stub for the compiled module reparam._bitgen (csrc/bindings/_bitgen.pyx). Private API.
from typing import Any

import numpy as np

class PhiloxBitGenerator(np.random.BitGenerator):
    _core_state: Any
    _seed_seq: np.random.SeedSequence | None
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def _attach(self, core_state: Any, lock: Any, seed_seq: np.random.SeedSequence | None) -> None: ...
