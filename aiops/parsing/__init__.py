"""Pure log parsing: bytes of one file in, ParsedEvents and DeadLetters out (no Beam here).

Example::

    >>> from aiops.parsing import LogParser, ParseConfig
    >>> p = LogParser("svc/app.log", ParseConfig(default_service="svc"))
    >>> p.feed(b'{"ts": 1700000000, "level": "info", "msg": "up"}', 1) + p.finish()  # doctest: +ELLIPSIS
    [ParsedEvent(source='svc/app.log', line_no=1, ...)]
"""

from aiops.parsing.reader import LogParser, ParseConfig, is_event_start

__all__ = ["LogParser", "ParseConfig", "is_event_start"]
