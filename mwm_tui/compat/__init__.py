"""The one door to each dependency's private parts: a module per dependency.

Only these modules name a private module, class, method or field of textual, paho-mqtt,
stomp.py or plotext. Each says, by name, when a part it needs is gone or changed
(``tests/test_compat.py`` asks every one), and falls back to the public path where there is one.
This package imports nothing itself, so the adapters can use ``paho`` and ``stomp`` without
loading the UI libraries.
"""
