"""``mwm-tui``'s commands, one module each: ``cli.py`` loads only the one that runs."""
