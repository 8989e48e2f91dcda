"""The `citebot` command line: parses input, calls the public API, renders output."""
