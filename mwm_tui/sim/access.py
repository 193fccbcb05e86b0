"""How a simulated device reaches its brokers: as itself when it has an account
(``--credentials``), and why a side's port does not answer its protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from mwm_tui.adapters.protocol_probe import other_protocol, wrong_protocol_reason
from mwm_tui.domain.targets import BrokerTarget


def device_target(
    target: BrokerTarget, passwords: Mapping[str, str], device_id: str
) -> BrokerTarget:
    """``target`` as ``device_id`` logs in: its own user and password when it has an account."""
    password = passwords.get(device_id)
    if password is None:
        return target
    return replace(target, username=device_id, password=password)


@dataclass(slots=True)
class WrongPort:
    """Whether a side's port speaks the other protocol: asked once, after its first handshake
    that got no answer (the probe blocks up to a second: run it off the loop), then kept."""

    asked: bool = False
    said: str | None = None

    def check(self, target: BrokerTarget) -> str | None:
        if not self.asked:
            self.asked = True
            found = other_protocol(target)
            if found is not None:
                self.said = wrong_protocol_reason(target, found)
        return self.said
