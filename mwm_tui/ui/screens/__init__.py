"""Screens over the dashboard: the ? help, the alert colour picker, a truck's details, a jump."""

from mwm_tui.ui.screens.colour import ColourPicker
from mwm_tui.ui.screens.detail import DeviceDetail
from mwm_tui.ui.screens.help import HelpScreen, help_table, key_label
from mwm_tui.ui.screens.jump import JumpScreen

__all__ = ["ColourPicker", "DeviceDetail", "HelpScreen", "JumpScreen", "help_table", "key_label"]
