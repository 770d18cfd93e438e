"""Importing this module registers every experiment (one module per topic)."""

from neuralab.experiments import (  # noqa: F401
    chars_scratch,
    cifar10,
    cifar10_fast,
    digits,
    digits_scratch,
    handwriting,
    palindrome,
    scratch_cifar,
    transfer,
)
