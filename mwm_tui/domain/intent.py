"""When a key may send: the two rules that keep typing from reaching a truck by accident.

A prompt that sends (an order to review, an alert colour to confirm) names the truck and what
goes. Its Enter counts only once the prompt has stood still for ``ARM_DELAY`` seconds since it
opened or last changed: keys typed ahead of it (prose meant for somewhere else, a burst that
arrives over SSH, a blank line between paragraphs) can never answer it. ``Arming.answer`` says
what an Enter does now, with the reason instead of a boolean.

A draft belongs to the truck it was written for: ``Drafts`` keeps one per truck, so a change of
selection swaps the composer's text instead of carrying it to another truck.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

# Longer than the gap between two keys of fast typing, shorter than reading "send to truck-07?".
ARM_DELAY = 0.5


class Answer(StrEnum):
    SEND = "send"
    TOO_SOON = "the prompt has not been on screen long enough to be read"


class Arming:
    """Whether a prompt's Enter counts yet; ``clock`` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float], delay: float = ARM_DELAY) -> None:
        self._clock = clock
        self.delay = delay
        self._since = clock()

    def changed(self) -> None:
        """What the prompt would send changed: it must stand still again before Enter counts."""
        self._since = self._clock()

    def remaining(self) -> float:
        return max(self.delay - (self._clock() - self._since), 0.0)

    def armed(self) -> bool:
        return self.remaining() == 0.0

    def answer(self) -> Answer:
        """What an Enter pressed now does."""
        return Answer.SEND if self.armed() else Answer.TOO_SOON


class Drafts:
    """One unsent draft per truck; the empty draft is not kept."""

    def __init__(self) -> None:
        self._by_device: dict[str, str] = {}

    def switch(self, leaving: str | None, text: str, reaching: str | None) -> str:
        """Keep ``text`` as ``leaving``'s draft and return ``reaching``'s (empty when none)."""
        if leaving == reaching:
            return text
        self.keep(leaving, text)
        return self._by_device.pop(reaching, "") if reaching is not None else ""

    def keep(self, device_id: str | None, text: str) -> None:
        if device_id is None:
            return
        if text:
            self._by_device[device_id] = text
        else:
            self._by_device.pop(device_id, None)

    def held(self, device_id: str) -> str:
        return self._by_device.get(device_id, "")

    def __len__(self) -> int:
        return len(self._by_device)
