"""The C allocator asked to give big freed blocks back at once (glibc; elsewhere nothing is done).

glibc maps a block of 128 KiB or more on its own and unmaps it when it is freed; but each time it frees such a
block, it raises that threshold to the block's size (up to 32 MiB). After a load's first big transient blocks,
later ones of the same size come from the heap, and once freed they stay there as holes between the model's
objects, which the heap cannot give back: at 306 MB, glibc's heap held 68 MB once the inspector had loaded, 12 MB
of it in use. Which blocks they are was not traced; a threshold of 1 MiB did as well as 128 KiB, so they are 1 MiB
or more, as lists of hundreds of thousands of items are (a snapshot's rows, the row sets sent to the waterfall).
A fixed threshold ends that. Measured at 306 MB, with it at 1 MiB against glibc's default: the inspector's peak RSS
470 MiB against 501-514, ``report``'s Python 307 against 320 MiB. At 128 KiB the memory was the same, but
``report`` took about 5 % more CPU (alternated runs at 30 MB), since every block that size was mapped anew; at
1 MiB, nothing measurable.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD = 1 << 20  # (at 128 KiB, glibc's starting value, big lists cost CPU: see above)


def give_big_blocks_back() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD``; False where there is no glibc (musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl has no such function)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
