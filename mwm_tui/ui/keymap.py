"""Every key of the dashboard as data: bindings, the footer, the ? help and the palette read it.

All keys are priority bindings of the app, enabled by scope (what has focus). Handled in the
app's own queue, a burst of keys typed over SSH acts in order: ``o`` then text lands in the
composer, ``j`` then ``a`` opens the alert prompt for the newly selected device. No single key
sends: an order or alert leaves only from a prompt that names the truck (``screens/send_prompt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from textual.binding import Binding, BindingType


class Scope(StrEnum):
    APP = "Anywhere but a text field"
    LIST = "Device list"
    MAP = "Map (when focused)"
    FILTER = "Filter field"
    LOG = "Event log (when focused)"
    COMPOSER = "Composer"
    DETAIL = "Truck details"
    PROMPT = "Order review and alert prompt"
    REPLAY = "Replay (mwm-tui replay)"


@dataclass(frozen=True, slots=True)
class KeyAction:
    keys: str
    action: str
    description: str
    scope: Scope
    help: str
    show: bool = True
    key_display: str | None = None
    in_palette: bool = True
    bound: bool = True  # False: handled by the widget itself, listed for the help only

    @property
    def action_name(self) -> str:
        return self.action.partition("(")[0]

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action,
            self.description,
            show=self.show,
            key_display=self.key_display,
            priority=True,
        )


KEYMAP: tuple[KeyAction, ...] = (
    KeyAction(
        "q",
        "quit",
        "Quit",
        Scope.APP,
        "Quit (asks once when orders of yours are still in the outbox: q again quits)",
    ),
    KeyAction("question_mark", "help", "Help", Scope.APP, "Show every key", key_display="?"),
    KeyAction(
        "o",
        "compose",
        "Order",
        Scope.APP,
        "Write an order to the selected truck (Enter reviews it)",
    ),
    KeyAction(
        "a",
        "alert",
        "Alert…",
        Scope.APP,
        "Alert the selected truck: red, or pick a colour; Enter in the prompt sends",
    ),
    KeyAction(
        "slash", "filter", "Filter", Scope.APP, "Filter the list by id or status", key_display="/"
    ),
    KeyAction("f", "fit_map", "Fit", Scope.APP, "Fit the map to the whole fleet"),
    KeyAction(
        "r",
        "reconnect",
        "Reconnect",
        Scope.APP,
        "Reconnect both broker links now, without waiting",
        show=False,
    ),
    KeyAction(
        "plus,equals_sign",
        "zoom_in",
        "Zoom in",
        Scope.APP,
        "Zoom the map in",
        show=False,
        key_display="+",
    ),
    KeyAction(
        "minus", "zoom_out", "Zoom out", Scope.APP, "Zoom the map out", show=False, key_display="-"
    ),
    KeyAction(
        "F",
        "toggle_follow",
        "Follow",
        Scope.APP,
        "Keep the map centred on the selected device",
        show=False,
    ),
    KeyAction(
        "s",
        "sort_next",
        "Sort",
        Scope.APP,
        "Sort the list by the next column (or click a column's title; again reverses)",
        show=False,
    ),
    KeyAction("S", "sort_reverse", "Reverse", Scope.APP, "Reverse the list order", show=False),
    KeyAction("m", "focus_map", "Map", Scope.APP, "Give the map focus (arrows pan)", show=False),
    KeyAction("l", "focus_list", "List", Scope.APP, "Give the device list focus", show=False),
    KeyAction(
        "enter",
        "details",
        "Details",
        Scope.LIST,
        "Show the selected truck: ages, status history, orders and alerts, trail",
    ),
    KeyAction(
        "y",
        "copy_id",
        "Copy id",
        Scope.APP,
        "Copy the selected truck's id to the clipboard (through the terminal, OSC 52)",
    ),
    KeyAction("e", "focus_log", "Log", Scope.APP, "Give the event log focus (arrows scroll)"),
    KeyAction(
        "t",
        "log_truck",
        "Truck log",
        Scope.APP,
        "Show only the selected truck's lines in the event log",
    ),
    KeyAction(
        "c",
        "claim",
        "Claim",
        Scope.APP,
        "Claim the selected truck, or release it: every dashboard shows who has it",
        show=False,
    ),
    KeyAction(
        "n",
        "note",
        "Note",
        Scope.APP,
        "Leave a short note on the selected truck for the team",
        show=False,
    ),
    KeyAction(
        "A",
        "acknowledge",
        "On it",
        Scope.APP,
        "Acknowledge the selected truck gone stale or offline (from the log: the truck it "
        "shows): the team sees you are on it",
        show=False,
    ),
    KeyAction("j,down", "cursor_down", "Down", Scope.LIST, "Select the next device", show=False),
    KeyAction("k,up", "cursor_up", "Up", Scope.LIST, "Select the previous device", show=False),
    KeyAction(
        "pagedown",
        "page_down",
        "Page down",
        Scope.LIST,
        "Move a page down",
        show=False,
        in_palette=False,
    ),
    KeyAction(
        "pageup", "page_up", "Page up", Scope.LIST, "Move a page up", show=False, in_palette=False
    ),
    KeyAction(
        "home,g",
        "first",
        "First",
        Scope.LIST,
        "Select the first device",
        show=False,
        in_palette=False,
    ),
    KeyAction(
        "end,G", "last", "Last", Scope.LIST, "Select the last device", show=False, in_palette=False
    ),
    KeyAction(
        "left", "pan('left')", "Pan left", Scope.MAP, "Pan the map", show=False, in_palette=False
    ),
    KeyAction(
        "right", "pan('right')", "Pan right", Scope.MAP, "Pan the map", show=False, in_palette=False
    ),
    KeyAction("up", "pan('up')", "Pan up", Scope.MAP, "Pan the map", show=False, in_palette=False),
    KeyAction(
        "down", "pan('down')", "Pan down", Scope.MAP, "Pan the map", show=False, in_palette=False
    ),
    KeyAction(
        "enter",
        "keep_filter",
        "Keep",
        Scope.FILTER,
        "Keep the filter, back to the list on the first match",
        in_palette=False,
    ),
    KeyAction(
        "escape", "clear_filter", "Clear", Scope.FILTER, "Clear the filter", in_palette=False
    ),
    KeyAction(
        "escape",
        "drop_filter",
        "Show all",
        Scope.LIST,
        "Clear the kept filter: every truck again",
        in_palette=False,
    ),
    KeyAction(
        "escape",
        "log_all",
        "All events",
        Scope.LOG,
        "Show every line again; Esc once more goes back to the list",
        in_palette=False,
    ),
    KeyAction(
        "enter",
        "submit",
        "Review",
        Scope.COMPOSER,
        "Review the order: a prompt names the truck, and its Enter sends",
        in_palette=False,
        bound=False,
    ),
    KeyAction(
        "up",
        "history_back",
        "Earlier",
        Scope.COMPOSER,
        "Recall an earlier order",
        show=False,
        in_palette=False,
    ),
    KeyAction(
        "down",
        "history_forward",
        "Later",
        Scope.COMPOSER,
        "Recall a later order",
        show=False,
        in_palette=False,
    ),
    KeyAction(
        "escape", "leave_composer", "Back", Scope.COMPOSER, "Back to the list", in_palette=False
    ),
    KeyAction(
        "escape",
        "close_details",
        "Close",
        Scope.DETAIL,
        "Close the truck's details",
        in_palette=False,
        bound=False,
    ),
    KeyAction(
        "c",
        "claim_truck",
        "Claim",
        Scope.DETAIL,
        "Claim the truck, or release it",
        in_palette=False,
        bound=False,
    ),
    KeyAction(
        "n",
        "note_truck",
        "Note",
        Scope.DETAIL,
        "Leave a short note on the truck for the team",
        in_palette=False,
        bound=False,
    ),
    KeyAction(
        "A",
        "acknowledge_truck",
        "On it",
        Scope.DETAIL,
        "Acknowledge the truck gone stale or offline: the team sees you are on it",
        in_palette=False,
        bound=False,
    ),
    KeyAction(
        "up,k,down,j",
        "cursor",
        "Colour",
        Scope.PROMPT,
        "Pick the alert's colour",
        in_palette=False,
        bound=False,
    ),
    KeyAction(
        "enter",
        "send",
        "Send",
        Scope.PROMPT,
        "Send what the prompt names, once it has been on screen half a second",
        in_palette=False,
        bound=False,
    ),
    KeyAction(
        "escape",
        "cancel",
        "Cancel",
        Scope.PROMPT,
        "Close the prompt, send nothing (so does any other typed key)",
        in_palette=False,
        bound=False,
    ),
    KeyAction("space", "replay_pause", "Pause", Scope.REPLAY, "Pause or resume the replay"),
    KeyAction(
        "full_stop",
        "replay_step",
        "Step",
        Scope.REPLAY,
        "Pause, then play the next message",
        key_display=".",
    ),
    KeyAction(
        "comma",
        "replay_step_second",
        "+1 s",
        Scope.REPLAY,
        "Pause, then play one second on",
        show=False,
        key_display=",",
    ),
    KeyAction(
        "right_square_bracket",
        "replay_faster",
        "Faster",
        Scope.REPLAY,
        "Replay faster (x1, x2, x5, x10, x30, x60)",
        key_display="]",
    ),
    KeyAction(
        "left_square_bracket",
        "replay_slower",
        "Slower",
        Scope.REPLAY,
        "Replay slower",
        key_display="[",
    ),
    KeyAction(
        "J", "replay_jump", "Jump", Scope.REPLAY, "Jump to a time (14:05, +5m, -90s, ISO date)"
    ),
)

SCOPE_OF_ACTION: dict[str, Scope] = {action.action_name: action.scope for action in KEYMAP}


def bindings() -> list[BindingType]:
    """The app's bindings, in keymap order."""
    return [action.binding() for action in KEYMAP if action.bound]


def palette_actions(scope: Scope | None = None) -> list[KeyAction]:
    """Actions offered in the command palette: of ``scope``, or of every scope but a replay's."""
    return [
        action
        for action in KEYMAP
        if action.in_palette
        and (action.scope is scope if scope is not None else action.scope is not Scope.REPLAY)
    ]
