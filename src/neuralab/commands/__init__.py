"""The command layer: implementations of ``neuralab`` subcommands that need more than a few
lines in :mod:`neuralab.cli`. It sits on top of every other layer and may import any of them;
nothing below imports it."""
