"""glibc keeps giving big freed blocks back once ``give_big_blocks_back`` has run: in a fresh interpreter each
way, a 2 MiB block allocated after an 8 MiB one was freed is mapped on its own (``mallinfo2().hblkhd``) only with
it; with glibc's default, the freed 8 MiB raised the threshold and the block comes from the heap."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from pushscope.allocator import give_big_blocks_back

PROBE = """
import ctypes, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "fixed":
    from pushscope.allocator import give_big_blocks_back
    assert give_big_blocks_back()
big = bytearray(8 << 20)
del big
before = libc.mallinfo2().hblkhd
block = bytearray(2 << 20)
print(libc.mallinfo2().hblkhd - before >= 2 << 20)
"""


def _glibc(*functions: str) -> bool:
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    return all(hasattr(libc, name) for name in ("gnu_get_libc_version", *functions))


@pytest.mark.skipif(not _glibc("mallinfo2"), reason="glibc 2.33 or later only")
def test_a_big_block_is_mapped_on_its_own_after_a_bigger_one_was_freed() -> None:
    def mapped(mode: str) -> bool:
        done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
        return done.stdout.strip() == "True"

    assert not mapped("default")  # glibc's own behaviour, which the fix is for
    assert mapped("fixed")


def test_it_says_whether_it_could() -> None:
    assert give_big_blocks_back() is (sys.platform.startswith("linux") and _glibc())
