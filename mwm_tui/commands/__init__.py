"""``mwm-tui`` subcommands that are programs of their own."""
