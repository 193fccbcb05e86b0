"""Screens over the dashboard: the ? help, the alert colour picker, a truck's details."""

from mwm_tui.ui.screens.colour import ColourPicker
from mwm_tui.ui.screens.detail import DeviceDetail
from mwm_tui.ui.screens.help import HelpScreen, help_table, key_label

__all__ = ["ColourPicker", "DeviceDetail", "HelpScreen", "help_table", "key_label"]
