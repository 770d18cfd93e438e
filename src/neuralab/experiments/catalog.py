"""Importing this module registers every experiment (one module per topic)."""

import neuralab.experiments.handwriting  # noqa: F401
import neuralab.experiments.palindrome  # noqa: F401
from neuralab.experiments import cifar10, digits  # noqa: F401
from neuralab.experiments import chars_scratch, digits_scratch, scratch_cifar  # noqa: F401
