"""stomp.py's private parts: the one method its receiver thread reads frames with.

stomp.py's receiver thread calls ``BaseTransport.__read_frames`` (name-mangled) in a loop and
has no public hook for it. ``HookedTransport`` routes that call to ``read_frames``, which a
subclass overrides. When the method is gone, changed, or no longer called by the receiver loop
(``read_hook_problem`` says which), ``hooked`` is False and stomp.py reads its frames itself,
handing each to the listeners as its public API does.
"""

from __future__ import annotations

import inspect
from functools import cache

import stomp.transport

_BASE = "stomp.transport.BaseTransport"
# How the name-mangled method and the loop that calls it are spelt on the class.
_READ_FRAMES = "_BaseTransport__read_frames"
_IO_LOOP = "_BaseTransport__io_loop"


@cache
def read_hook_problem() -> str | None:
    """None when stomp.py's receiver loop calls ``__read_frames()`` as in 9.0; else what not."""
    base = stomp.transport.BaseTransport
    method = getattr(base, _READ_FRAMES, None)
    if not callable(method):
        return f"{_BASE}.__read_frames is gone"
    parameters = list(inspect.signature(method).parameters)
    if parameters != ["self"]:
        return f"{_BASE}.__read_frames takes {parameters}, not ['self']"
    loop = getattr(base, _IO_LOOP, None)
    code = getattr(loop, "__code__", None)
    if code is None or _READ_FRAMES not in code.co_names:
        return f"{_BASE}.__io_loop is gone or no longer calls __read_frames"
    return None


class HookedTransport(stomp.transport.Transport):  # type: ignore[misc]
    """stomp.py's Transport whose receiver thread calls ``read_frames``, where it allows."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.hooked = read_hook_problem() is None

    def _BaseTransport__read_frames(self) -> None:  # noqa: N802 (the name stomp.py calls)
        if self.hooked:
            self.read_frames()
        else:
            super()._BaseTransport__read_frames()

    def read_frames(self) -> None:
        """Read what the socket has and hand its frames on: stomp.py's own way here."""
        super()._BaseTransport__read_frames()
