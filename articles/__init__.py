"""The bundled demo corpus (package data: read with importlib.resources)."""
