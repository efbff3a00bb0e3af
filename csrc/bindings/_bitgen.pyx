# cython: language_level=3, auto_pickle=False, freethreading_compatible=True
"""reparam._bitgen: the numpy.random.BitGenerator base of reparam.Philox.

NumPy accepts only real BitGenerator instances where it pickles, copies and spawns
Generators, and its `ctypes`/`cffi` interfaces read the `bitgen_t` stored inside the
BitGenerator object. This base class holds the C++ stream state (reparam._core.PhiloxState)
and copies that state's `bitgen_t` (its pointer and four functions) into the object: the
stream itself stays in the core, this file only connects it to NumPy's type.
"""

from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid, PyCapsule_New
from libc.string cimport memcpy
from numpy.random cimport BitGenerator, bitgen_t


cdef class PhiloxBitGenerator(BitGenerator):
    """The NumPy BitGenerator face of a reparam._core.PhiloxState (private base class)."""

    cdef readonly object _core_state

    def __init__(self, *args, **kwargs):
        # BitGenerator.__init__ would make a SeedSequence from OS entropy and a
        # threading.Lock; the subclass attaches its own state and lock instead.
        pass

    def _attach(self, core_state, lock, seed_seq):
        """_attach(core_state, lock, seed_seq)

        Draw from `core_state` (a reparam._core.PhiloxState) under `lock`; `seed_seq` is
        what the `seed_seq` property returns.
        """
        cap = core_state.capsule()
        if not PyCapsule_IsValid(cap, b"BitGenerator"):
            raise TypeError("core_state must give a BitGenerator capsule")
        # The functions read and advance the C++ state through the pointer; the copy
        # here is what NumPy's Generator, ctypes and cffi read.
        memcpy(&self._bitgen, PyCapsule_GetPointer(cap, b"BitGenerator"), sizeof(bitgen_t))
        self._core_state = core_state  # keeps the state the pointer refers to alive
        self.lock = lock
        self._seed_seq = seed_seq
        self._ctypes = None
        self._cffi = None
        self.capsule = PyCapsule_New(<void *>&self._bitgen, b"BitGenerator", NULL)
