"""The fleet as HQ sees it: wire codecs, device-id rules and the fleet model (stdlib only)."""
