"""Alice's shared kernel: settings, Fibonacci configuration, errors, logging, metrics and HTTP plumbing.

Services import from here; the kernel never imports a service (``alice.cli`` is the one composition root).
"""

__version__ = "0.1.0"
