import logging
import time


class UTCFormatter(logging.Formatter):
    """Log lines stamped in UTC with a 'Z', like the APIs' times (Django sets the process's
    local time to TIME_ZONE, Swedish time, which is for pages)."""

    converter = staticmethod(time.gmtime)
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"
