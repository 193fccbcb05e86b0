"""Work that ties the domain rules to the adapters, with no UI."""
