"""The keys line at the foot of each screen: Textual's ``Footer`` drawn by one widget.

Textual's ``Footer`` mounts one widget per key again on every change of the active bindings
(each focus change, screen push or pop). ``KeyFooter`` draws the same line as one text.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

# Footer's divider before the palette key (``border-left: vkey``).
DIVIDER = "▏"


@dataclass(frozen=True, slots=True)
class FooterKey:
    """One key as shown: ``key`` is what a click simulates, ``shown`` how it is written."""

    key: str
    shown: str
    description: str
    enabled: bool
    tooltip: str = ""


@dataclass(frozen=True, slots=True)
class KeyGroup:
    """Keys of one ``Binding.Group`` written side by side, then the group's description."""

    keys: tuple[FooterKey, ...]
    description: str


Item = FooterKey | KeyGroup
# What the line shows: the items from the left, and the palette key on the right (or None).
Signature = tuple[tuple[Item, ...], FooterKey | None]


class KeyFooter(Widget, can_focus=False):
    """The screen's active bindings as one line, as Textual 8's ``Footer`` shows them.

    Shown: ``screen.active_bindings`` with ``show=True`` in their order, one key per action
    (its first), those an action's ``check_action`` answers None for dimmed; two or more
    consecutive actions of one ``Binding.Group`` as their keys then the group's description;
    the command palette's key at the right end when the app has the palette.
    The line is worked out when the screen publishes ``bindings_updated_signal`` (not while
    the app lacks focus, as Footer) and repainted only when its keys changed (or the hover).
    Pressing the mouse on a key simulates that key; on a dimmed key it rings the bell. The key
    under the mouse is highlighted and shows its tooltip, as Footer's keys do.
    """

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "key-footer--key",
        "key-footer--description",
        "key-footer--divider",
        "key-footer--hover",
    }
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-footer--divider {
            color: $foreground 20%;
        }
        .key-footer--hover {
            background: $block-hover-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.signature: Signature = ((), None)
        self.renders = 0  # times the line was drawn
        # Each shown key's cells on the line, [start, end), from the last render.
        self._spans: list[tuple[int, int, FooterKey]] = []
        self._pending = False
        self._hovered: int | None = None  # where the key under the mouse starts

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if not self.app.app_focus or screen is not self.screen or self._pending:
            return
        self._pending = True
        self.call_after_refresh(self.update_keys)

    def update_keys(self) -> bool:
        """Work out the line from the screen's bindings; repaint and True only if it changed."""
        self._pending = False
        if not self.is_attached:
            return False
        signature = self.current_signature()
        if signature == self.signature:
            return False
        self.signature = signature
        self._hover(None)
        self.refresh()
        return True

    def current_signature(self) -> Signature:
        """What the line would show now, from the screen's active bindings."""
        app = self.app
        active = self.screen.active_bindings
        first_of_action: dict[str, tuple[Binding, bool]] = {}
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show:
                first_of_action.setdefault(binding.action, (binding, enabled))

        def key_of(binding: Binding, enabled: bool, description: str, tip: str) -> FooterKey:
            shown = app.get_key_display(binding)
            return FooterKey(binding.key, shown, description, enabled, tip)

        items: list[Item] = []
        for group, runs in groupby(first_of_action.values(), lambda shown: shown[0].group):
            run = list(runs)
            if group is not None and len(run) > 1:
                keys = tuple(
                    key_of(binding, enabled, "", binding.tooltip or binding.description)
                    for binding, enabled in run
                )
                items.append(KeyGroup(keys, group.description))
            else:
                items.extend(key_of(b, enabled, b.description, b.tooltip) for b, enabled in run)
        palette = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            _node, binding, enabled, _tooltip = active[app.COMMAND_PALETTE_BINDING]
            tip = binding.tooltip or binding.description
            palette = key_of(binding, enabled, binding.description, tip)
        return tuple(items), palette

    def render(self) -> Text:
        self.renders += 1
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, FooterKey]] = []

        def add(key: FooterKey, key_text: str, description_text: str = "") -> None:
            start = line.cell_len
            look = Style() if key.enabled else Style(dim=True)
            line.append(key_text, look + key_style)
            line.append(description_text, look + description_style)
            spans.append((start, line.cell_len, key))

        items, palette = self.signature
        for item in items:
            if isinstance(item, KeyGroup):
                line.append(" ")
                for key in item.keys:
                    add(key, key.shown)
                    line.append(" ")
                line.append(f"{item.description} ", description_style)
            else:
                add(item, f" {item.shown} ", f"{item.description} " if item.description else "")
        width = self.size.width
        if palette is not None:
            key_text, description_text = palette.shown, f" {palette.description} "
            right_start = max(0, width - 1 - cell_len(key_text) - cell_len(description_text))
            line.truncate(right_start, pad=True)
            line.append(DIVIDER, self.get_component_rich_style("key-footer--divider"))
            add(palette, key_text, description_text)
            # The divider is the palette key's left border: it hovers and clicks with it.
            spans = [(start, min(end, right_start), key) for start, end, key in spans[:-1]]
            spans.append((right_start, line.cell_len, palette))
        self._spans = [(s, min(e, width), key) for s, e, key in spans if s < min(e, width)]
        for start, end, _key in self._spans:
            if start == self._hovered:
                hover = self.get_component_rich_style("key-footer--hover")
                line.stylize(Style(bgcolor=hover.bgcolor), start, end)
        return line

    def key_at(self, x: int | None) -> tuple[int, FooterKey] | None:
        """Where the key drawn at column ``x`` of the line starts, and the key; None if none."""
        for start, end, key in self._spans:
            if x is not None and start <= x < end:
                return start, key
        return None

    def _hover(self, x: int | None) -> None:
        """Highlight the key at column ``x`` (None: no key) and take its tooltip."""
        found = self.key_at(x)
        start = None if found is None else found[0]
        if start == self._hovered:
            return
        self._hovered = start
        self.tooltip = found[1].tooltip or None if found is not None else None
        self.styles.pointer = "default" if found is None else "pointer"
        self.refresh()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._hover(event.x)

    def on_leave(self, event: events.Leave) -> None:
        self._hover(None)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        found = self.key_at(event.x)
        if found is None:
            return
        if found[1].enabled:
            self.app.simulate_key(found[1].key)
        else:
            self.app.bell()
