"""The Textual dashboard: the only layer that touches widgets."""
