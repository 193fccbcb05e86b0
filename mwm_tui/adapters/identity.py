"""Who is dispatching: the Unix account running this process, as the operating system says.

Never from the environment ($USER, $LOGNAME): every order carries this name as an audit trail,
so a dispatcher cannot send as someone else by setting a variable.
"""

from __future__ import annotations

import os
import pwd


def unix_account(uid: int | None = None) -> str:
    """The login name of ``uid`` (this process's real user by default), or ``uid N``."""
    uid = os.getuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry, as in some containers
        return f"uid {uid}"
