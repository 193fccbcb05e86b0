"""Screens over the dashboard: help, the prompts that send, a truck's details, a jump."""

from mwm_tui.ui.screens.colour import ColourPicker
from mwm_tui.ui.screens.detail import DeviceDetail
from mwm_tui.ui.screens.help import HelpScreen, help_table, key_label
from mwm_tui.ui.screens.jump import JumpScreen
from mwm_tui.ui.screens.send_prompt import OrderPrompt, SendPrompt

__all__ = [
    "ColourPicker",
    "DeviceDetail",
    "HelpScreen",
    "JumpScreen",
    "OrderPrompt",
    "SendPrompt",
    "help_table",
    "key_label",
]
