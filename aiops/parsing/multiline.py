"""Which physical lines continue the previous event (stack traces, wrapped text).

A continuation line is joined onto the current event by the reader. The rules are
deliberately narrow so ordinary unrecognised lines stay events of their own:

* indented lines (leading space or tab): Java ``\\tat ...``, Python ``  File ...``;
* ``Caused by:``, ``Suppressed:``, ``Traceback (most recent call last):``,
  ``... N more``, unindented ``at pkg.Class.method(`` and Python's chained-exception
  banners;
* the ``pkg.SomeException: message`` line of a Java trace (dotted name: always), and
  the closing ``SomeError: message`` line of a Python traceback (undotted: only when
  the event already spans several lines, i.e. we are inside a trace).

Example::

    >>> from aiops.parsing.multiline import is_continuation
    >>> is_continuation("\\tat com.acme.Foo.bar(Foo.java:10)", 1)
    True
    >>> is_continuation("KeyError: 'x'", 3), is_continuation("KeyError: 'x'", 1)
    (True, False)
"""

from __future__ import annotations

import re

_MARKERS = re.compile(
    r"Caused by: |Suppressed: |Traceback \(most recent call last\):|\.\.\. \d+ (?:more|common frames omitted)"
    r"|at [\w$.<>/]+\(|During handling of the above exception|The above exception was the direct cause"
    r'|Exception in thread "'
)
_EXCEPTION = re.compile(
    r"(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception|Exit|Interrupt|Throwable|Warning|Fault)(?::\s|:?$)"
)


def is_continuation(line: str, pending_lines: int) -> bool:
    """True when ``line`` continues an event that currently spans ``pending_lines`` lines."""
    first = line[0]
    if first == " " or first == "\t":
        return True
    if _MARKERS.match(line):
        return True
    m = _EXCEPTION.match(line)
    if m is None:
        return False
    return "." in m.group(0) or pending_lines > 1
