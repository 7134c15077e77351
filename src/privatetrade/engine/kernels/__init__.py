"""Numba kernels of the engine: arrays and scalars in, arrays out (names end in ``_nb``)."""
