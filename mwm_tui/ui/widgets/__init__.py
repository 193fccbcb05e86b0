"""Panes of the dashboard."""
