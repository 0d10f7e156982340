"""``python -m hftl`` (and ``accelerate launch -m hftl``)."""

from hftl.cli import main

main()
