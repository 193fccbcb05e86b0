"""Broker links: each runs on its own thread and hands decoded events to an EventSink."""
