"""``python -m tinyrnn``: the ``tinyrnn`` command."""

from .cli import main_entry

if __name__ == "__main__":
    main_entry()
