# Type stub for the compiled module reparam._core (csrc/bindings). Private API.
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

parallel_threshold: int
task_size: int
streaming_bytes: int  # outputs this large are written with streaming stores

def compiled_targets() -> list[str]: ...
def supported_targets() -> list[str]: ...
def best_target() -> str: ...
def selected_target() -> str: ...
def select_target(name: str) -> bool: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def available_cores() -> int: ...
def _test_parallel_throw(n_tasks: int, throw_at: int) -> int: ...  # test-only

class StateLock:
    def acquire(self, blocking: bool = True, timeout: float = -1.0) -> bool: ...
    def release(self) -> None: ...
    def locked(self) -> bool: ...
    def __enter__(self) -> bool: ...
    def __exit__(self, *args: object) -> bool: ...

class PhiloxState:
    def __init__(self, key: int, ctr_lo: int, ctr_hi: int, word: int) -> None: ...
    def make_lock(self) -> StateLock: ...
    def capsule(self) -> Any: ...
    def get(self) -> tuple[int, int, int, int]: ...
    def set(self, key: int, ctr_lo: int, ctr_hi: int, word: int) -> None: ...
    def get_unlocked(self) -> tuple[int, int, int, int]: ...
    def set_unlocked(self, key: int, ctr_lo: int, ctr_hi: int, word: int) -> None: ...

def fill_normal(state: PhiloxState, out: npt.NDArray[Any]) -> None: ...
def fill_uniform(state: PhiloxState, out: npt.NDArray[Any]) -> None: ...
def fill_exponential(state: PhiloxState, out: npt.NDArray[Any]) -> None: ...
def fill_raw(state: PhiloxState, out: npt.NDArray[np.uint32]) -> None: ...
def bind_fast_calls(
    state: PhiloxState,
    is_single: Callable[[Any, str], bool],
    normalize_size: Callable[[Any], tuple[int, ...]],
) -> tuple[
    Callable[[Any, Any], Any],
    Callable[[Any, Any], Any],
    Callable[[Any, Any, Any, Any], Any],
    Callable[[Any, Any], Any],
    Callable[[Any, Any], Any],
]: ...
def stream_fill(
    kind: str, key: int, ctr_lo: int, ctr_hi: int, start: int, out: npt.NDArray[Any],
    offset: int = 0,
) -> None: ...

class StreamPos:
    def __init__(self, key: int, counter: int, start: int, unit: int) -> None: ...
    @property
    def key(self) -> int: ...
    @property
    def counter(self) -> int: ...
    @property
    def start(self) -> int: ...
    @property
    def unit(self) -> int: ...
    def at(self, offset: int) -> StreamPos: ...
    def state(self) -> PhiloxState: ...
    def noise(self, mirror: int = 0) -> tuple[int, int, int, int, int]: ...
    def fill(self, kind: str, out: npt.NDArray[Any]) -> None: ...
    def __dask_tokenize__(self) -> tuple[int, int, int, int]: ...

def stream_reserve(state: PhiloxState, n: int, unit: int) -> StreamPos: ...
def stream_advance(state: PhiloxState, delta: int) -> None: ...
def stream_jumped(state: PhiloxState, jumps: int) -> PhiloxState: ...
def philox_get_state(state: PhiloxState) -> tuple[int, int, int]: ...
def philox_set_state(state: PhiloxState, key: int, counter: int, word: int) -> None: ...

PARAM_NAMES: tuple[str, ...]
PARAM_SCALE: int
PARAM_VAR: int
PARAM_LOGVAR: int
PARAM_LOGSTD: int
PARAM_SOFTPLUS: int

def affine_normal(
    state: PhiloxState,
    loc: npt.NDArray[Any],
    param: npt.NDArray[Any],
    kind: int,
    antithetic: bool,
    out: npt.NDArray[Any],
    streaming: bool | None = None,
) -> StreamPos: ...
def sigma(param: npt.NDArray[Any], kind: int, out: npt.NDArray[Any]) -> None: ...
def closed_form_same(
    form: int,
    kind: int,
    loc: npt.NDArray[Any],
    param: npt.NDArray[Any],
    x: npt.NDArray[Any] | None,
    other_param: npt.NDArray[Any] | None,
    other_kind: int,
    grad: bool,
) -> Any: ...
def closed_form(
    form: int,
    kind: int,
    loc: npt.NDArray[Any],
    param: npt.NDArray[Any],
    x: npt.NDArray[Any] | None,
    other_param: npt.NDArray[Any] | None,
    other_kind: int,
    grad: bool,
    wide: bool = False,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]: ...
def reduce_estimator(
    score: int,
    stats: bool,
    noise: tuple[int, int, int, int, int] | tuple[StreamPos, int] | npt.NDArray[Any],
    g: npt.NDArray[Any],
    rows: int,
    batch: int,
    wcols: int,
    inner: int,
    centre_b: npt.NDArray[np.float64] | None = None,
    centre_a: float = 1.0,
    centre_c: float = 1.0,
) -> npt.NDArray[np.float64]: ...
def pathwise_grad(
    noise: tuple[int, int, int, int, int] | tuple[StreamPos, int] | npt.NDArray[Any],
    g: npt.NDArray[Any],
    rows: int,
    batch: int,
    param: npt.NDArray[Any],
    kind: int,
    scale: float,
    d_loc: npt.NDArray[Any],
    d_param: npt.NDArray[Any],
) -> None: ...
def grad_finish(
    score: int,
    sums: npt.NDArray[np.float64],
    param: npt.NDArray[Any],
    kind: int,
    scale: float,
    d_loc: npt.NDArray[Any],
    d_param: npt.NDArray[Any],
) -> None: ...
def dsigma(param: npt.NDArray[Any], kind: int, out: npt.NDArray[np.float64]) -> None: ...
def score_grad(
    noise: tuple[int, int, int, int, int] | tuple[StreamPos, int] | npt.NDArray[Any],
    f: npt.NDArray[Any],
    rows: int,
    batch: int,
    wcols: int,
    inner: int,
    centre_b: npt.NDArray[np.float64] | None,
    centre_a: float,
    centre_c: float,
    param: npt.NDArray[Any],
    kind: int,
    scale: float,
    d_loc: npt.NDArray[Any],
    d_param: npt.NDArray[Any],
) -> None: ...
