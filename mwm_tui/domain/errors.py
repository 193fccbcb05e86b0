"""Why an incoming message was refused."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """One reason per way a message from the network can be unusable."""

    OVERSIZE = "oversize"
    NOT_UTF8 = "not UTF-8"
    NOT_JSON = "not JSON"
    NOT_OBJECT = "not a JSON object"
    MISSING_FIELD = "missing field"
    MISTYPED_FIELD = "mistyped field"
    OUT_OF_RANGE = "out of range"
    NOT_FINITE = "not finite"
    WRONG_LENGTH = "wrong payload length"
    ID_MISMATCH = "id differs from destination"
    BAD_ID = "unusable device id"
    BAD_DESTINATION = "unexpected destination"
    MALFORMED_FRAME = "malformed frame"
    DEVICE_LIMIT = "device limit"


class DecodeError(ValueError):
    """A message that cannot become a domain value, with the reason and a human detail."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class InvalidDeviceIdError(ValueError):
    """A device id that must not be placed in a destination."""

    def __init__(self, device_id: str, problem: str) -> None:
        super().__init__(f"device id {device_id!r} cannot be addressed: {problem}")
        self.device_id = device_id
        self.problem = problem
