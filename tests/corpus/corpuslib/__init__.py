"""Helpers shared by the corpus generator (tests/corpus/generate.py) and the example generator
(examples/generate.py): a pickle writer that names callables without importing them, a zip
writer with full control over every header field, and deterministic writers for the other
formats. Nothing here loads or executes what it writes."""
