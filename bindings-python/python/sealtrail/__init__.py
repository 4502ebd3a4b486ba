"""sealtrail: a tamper-evident audit trail for AI agents.

Example::

    import sealtrail
    print(sealtrail.version())
"""

from sealtrail._native import version

__all__ = ["version"]
__version__ = version()
