"""Compiled (Numba) versions of the layers' time loops; the NumPy loops stay the reference.

``enabled()`` says whether :class:`~rnnkit.RNN`, :class:`~rnnkit.LSTM` and
:class:`~rnnkit.GRU` run them; ``set_enabled(False)`` or ``RNNKIT_COMPILE=0`` turns them off,
and without Numba they are off with no error. See :mod:`rnnkit.compiled.switch`.

Numba's on-disk cache (``cache=True``) would be invalidated only when the file of the cached
function itself changes, not when a helper module it calls does (``vector``, ``tiles``...):
:func:`rnnkit.compiled.cache.drop_stale` deletes the cache whenever any source file here
changed, before the loops load.
"""

from rnnkit.compiled.switch import available, enabled, kernel, set_enabled, unavailable_reason

__all__ = ["available", "enabled", "kernel", "set_enabled", "unavailable_reason"]
