"""The Discord front end: slash commands, threads, sources button, scheduled updates."""
