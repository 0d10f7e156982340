"""Runnable examples on data that installs with packages (``python -m hftl.examples.digits``)."""
