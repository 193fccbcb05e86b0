"""What quitting means for the orders a dispatcher still has in the team's outbox.

Quitting never loses them: they are committed. Who sends them then is the question the
dispatcher is asked, once, before the dashboard ends; with none of theirs open, none is asked.
"""

from __future__ import annotations


def quit_question(own_open: int, alone: bool, expiry: float) -> str | None:
    """The question to ask before quitting, or None to quit at once."""
    if own_open <= 0:
        return None
    what = (
        "1 order or alert of yours is"
        if own_open == 1
        else f"{own_open} orders or alerts of yours are"
    )
    if alone:
        minutes = max(round(expiry / 60), 1)
        fate = (
            "no other dashboard is running: they wait in the outbox for the next start "
            f"(each expires {minutes} min after it was made)"
        )
    else:
        fate = "the team's other dashboards will send them"
    return f"{what} still in the outbox; {fate}. Quit anyway?"
