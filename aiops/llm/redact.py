"""Redaction: secrets and personal data are replaced by typed placeholders before anything leaves.

Every string of an evidence pack goes through :func:`redact` before it is sent to a model or
stored in ``llm_requests``. Each named rule replaces what it finds with ``[REDACTED:<rule>]`` and
keeps the structure around it (the key of ``password=...``, JSON quotes, a URL's scheme, user and
host), so the model still sees *that* a credential was there. Rules run in a fixed order, most
specific first, and never touch an existing placeholder, so redacting twice changes nothing.

Rules (``BUILTIN_RULES``): private_key (PEM blocks, also truncated), jwt, authorization (the
Authorization header of any scheme, bare ``Bearer x``), url_password (``scheme://user:PASS@host``),
aws_access_key, aws_secret_key, google_api_key, github_token, slack_token, stripe_key, openai_key,
password and secret (``key=v``, ``key: v``, JSON, query strings; password/passwd/pwd/passphrase vs
secret/token/api_key/private_key/auth/credentials/signature keys), email, card (13-19 digits passing
Luhn), high_entropy; off unless enabled: ip (IPv4/IPv6), username (``user=x``, ``for [invalid] user x``).

Generic ``high_entropy`` rule (the constants below): a run of >= 20 base64/base64url characters
(>= 15 of them letters or digits) is redacted when it mixes upper and lower case, its Shannon
entropy is >= 0.8 * log2(n) bits per character for its n letters and digits (3.5 bits at 20, 4.0
at 32, 4.3 at 40), its runs of one class (upper/lower/digit) average <= 2.5 characters, and less
than half of it is word-like (``Abc``/``abc`` pieces with a vowel). Names such as
``TaskAttemptEventType`` or ``Http2ServerConnectionHandler`` fail the last two tests. Measured on
random tokens: ~95% caught at 20 characters, ~98% at 32, >99.5% at 64 (letters-only tokens
~80-90%). Hex-only runs are redacted from 48 hex digits on (>= 3.0 bits per digit), so UUIDs,
16/32-hex trace ids and 40-hex git commits stay; a 64-hex value labelled ``sha256:`` etc. stays too.

Example::

    >>> r = redact('login ok password=hunter2 {"api_key": "AKIAIOSFODNN7EXAMPLE"} mail bob@example.com')
    >>> r.text
    'login ok password=[REDACTED:password] {"api_key": "[REDACTED:aws_access_key]"} mail [REDACTED:email]'
    >>> sorted(r.counts.items())
    [('aws_access_key', 1), ('email', 1), ('password', 1)]
    >>> redact("from 10.0.0.7", RedactionConfig.from_spec(["+ip"])).text
    'from [REDACTED:ip]'
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache, partial

PLACEHOLDER = "[REDACTED:{}]"
_PLACEHOLDER_RE = re.compile(r"\[REDACTED:[a-z][a-z0-9_]*\]")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
ENTROPY_MIN_LEN = 20  # characters in a candidate token (3/4 of them letters or digits)
ENTROPY_RATIO = 0.8  # of log2(length): the most a string of that length can have
ENTROPY_MAX_RUN = 2.5  # mean length of runs of one class (upper / lower / digit)
ENTROPY_MAX_WORDLIKE = 0.5  # share of characters in words: TaskAttemptEventType 1.0, random tokens ~0.1
HEX_MIN_LEN = 48  # > SHA-1 (40): trace ids (16/32), UUIDs and git commits are kept
HEX_MIN_BITS = 3.0
_SEPARATORS = re.compile(r"[+/_=-]")
_HEX = re.compile(r"[0-9a-fA-F]+")
_WORD = re.compile(r"[A-Z][a-z]{2,}|[a-z]{3,}")
_VOWEL = re.compile(r"[aeiouAEIOU]")
# Values that say "no secret here": replacing them would hide information and protect nothing.
_NOT_SECRETS = {"null", "none", "nil", "true", "false", "undefined", "empty", "redacted", "-", "<redacted>",
                "simple", "kerberos", "token", "basic", "bearer", "digest", "oauth", "oauth2", "jwt"}


@dataclass(frozen=True)
class Redacted:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # rule name -> redactions (rules that fired)


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    needles: tuple[str, ...] = ()  # lower-case substrings one of which must occur (a cheap pre-filter)
    check: Callable[[str], bool] | None = None  # extra test of the secret part
    min_digits: int = 0  # another pre-filter: fewer digits in the text, no match possible


def shannon_entropy(s: str) -> float:
    """Bits per character of ``s`` (0 for the empty string)."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


def _class_runs(s: str) -> float:
    """Mean length of runs of one character class: ~1.6 for random tokens, 4+ for camelCase words."""
    classes = ["u" if c.isupper() else "l" if c.islower() else "d" for c in s]
    return len(s) / (1 + sum(a != b for a, b in zip(classes, classes[1:], strict=False)))


def _wordlike(core: str) -> float:
    """Share of characters in word-like pieces (Abc or abc and longer, with a vowel): 0.8+ in names."""
    return sum(len(w) for w in _WORD.findall(core) if _VOWEL.search(w)) / len(core)


def looks_random(token: str) -> bool:
    """The ``high_entropy`` test of one token (see the module docstring for the thresholds)."""
    core = _SEPARATORS.sub("", token)
    if len(token.rstrip("=")) < ENTROPY_MIN_LEN or len(core) < ENTROPY_MIN_LEN * 3 // 4:
        return False
    if _HEX.fullmatch(core):
        return len(core) >= HEX_MIN_LEN and shannon_entropy(core.lower()) >= HEX_MIN_BITS
    if core.lower() == core or core.upper() == core:
        return False  # one case only: words, pod names (checkout-7d9f8b6c5d-x2k4q), upper-case ids
    return (shannon_entropy(core) >= ENTROPY_RATIO * math.log2(len(core)) and _class_runs(core) <= ENTROPY_MAX_RUN
            and _wordlike(core) < ENTROPY_MAX_WORDLIKE)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of payment card numbers."""
    nums = [int(c) for c in reversed(digits)]
    return (sum(nums[0::2]) + sum(d * 2 - 9 if d > 4 else d * 2 for d in nums[1::2])) % 10 == 0


def _card(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value.split("%")[0])
    except ValueError:
        return False
    return any(c not in ":0" for c in value)  # "::" alone is C++ or prose, not a host


# Quote around a key (plain, or escaped inside a JSON string), then the separator.
_Q = r"""(?:\\?["'])?"""
_SEP = rf"{_Q}[ \t]*(?:=>|:=|=|:)[ \t]*"
# The value: escaped-quoted, double-quoted, single-quoted, or bare (to whitespace or , ; & and brackets).
_VAL = (r"""(?:\\"(?P<v1>(?!\[REDACTED:)(?:(?!\\").)+?)\\"|"(?P<v2>(?!\[REDACTED:)(?:[^"\\\n]|\\.)+)"|"""
        r"""'(?P<v3>(?!\[REDACTED:)[^'\n]+)'|(?P<v4>(?!\[REDACTED:|\\|(?:bearer|basic)\s)[^\s"'`,;&<>(){}\[\]]+))""")
# A key is found by its last word (db_password, X-Api-Key, accessToken): the prefix is kept as it is,
# so it need not be matched, which keeps the scan linear. Short keys must start a word (not "bypass").
_WORD_START = r"(?<![a-z0-9])"
_PASSWORD_KEY = rf"(?:password|passwd|passphrase|{_WORD_START}(?:pwd|pass))"
_SECRET_KEY = (rf"(?:secret(?:[_.-]?access)?(?:[_.-]?key)?|token|api[_.-]?key|private[_.-]?key|auth|credentials?"
               rf"|signature|{_WORD_START}sig)")
_B64 = r"A-Za-z0-9+/_\-"


def _kv(name: str, key: str, needles: tuple[str, ...]) -> _Rule:
    return _Rule(name, re.compile(rf"{key}{_SEP}{_VAL}", re.I), needles,
                 lambda v: v.lower() not in _NOT_SECRETS and set(v) != {"*"})


def _r(name: str, pattern: str, needles: tuple[str, ...] = (), check: Callable[[str], bool] | None = None,
       flags: int = 0, min_digits: int = 0) -> _Rule:
    return _Rule(name, re.compile(pattern, flags), needles, check, min_digits)


# Most specific first: a later rule never rewrites an earlier placeholder.
_RULES: tuple[_Rule, ...] = (
    _r("private_key", r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY"
       r"(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*)", ("private key",), flags=re.S),
    _r("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", ("eyj",)),
    _r("authorization", r"\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:(?:bearer|basic|digest|token"
       r"|negotiate|ntlm|apikey|aws4-hmac-sha256)[ \t]+)?+(?P<v>(?!\[REDACTED:)(?:[\w-]+=(?:\"[^\"\n]*\"|[^\s\"',]+)"
       r"|[^\s\"',]+)(?:,[ \t]*[\w-]+=(?:\"[^\"\n]*\"|[^\s\"',]+))*)"
       r"|\bbearer[ \t]+(?P<b>(?!\[REDACTED:)[A-Za-z0-9._~+/=-]{8,})", ("authorization", "bearer"), flags=re.I),
    _r("url_password", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@\"']*:(?P<v>(?!\[REDACTED:)[^\s@/\"']+)(?=@)", ("://",)),
    _r("aws_access_key", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", ("akia", "asia")),
    _r("aws_secret_key", rf"aws[_.-]?secret[_.-]?(?:access[_.-]?)?key{_SEP}{_Q}"
       r"(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", ("aws",), flags=re.I),
    _r("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", ("aiza",)),
    _r("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b", ("gh", "github_pat_")),
    _r("slack_token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}", ("xox",)),
    _r("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b", ("_live_", "_test_")),
    _r("openai_key", r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", ("sk-",),
       lambda v: bool(re.search(r"\d", v) and re.search(r"[A-Za-z]", v[3:]))),  # not sk-some-long-word-list
    _kv("password", _PASSWORD_KEY, ("pass", "pwd")),
    _kv("secret", _SECRET_KEY, ("secret", "token", "key", "auth", "credential", "sig")),
    _r("email", r"(?<![\w.%+-])[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
       ("@", "%40")),
    _r("card", r"(?<![\w.-])[2-6]\d(?:[ -]?\d){11,17}(?!\w|[.,]\d)", (), _card, min_digits=13),
    _r("ip", r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%\w+)?"
       r"(?![\w:]|\.\d)",
       (":",), _ipv6),
    _r("ip", r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w|\.\d)",
       (".",)),
    _r("username", rf"{_WORD_START}(?:user(?:[_.-]?name)?|login|principal){_SEP}{_Q}"
       r"(?P<v>(?!\[REDACTED:)[\w.@+-]+)", ("user", "login", "principal"),
       lambda v: v.lower() not in _NOT_SECRETS, re.I),
    _r("username", r"\b(?:for|by|of)[ \t]+(?:(?:invalid|illegal|unknown)[ \t]+)?user[ \t]+(?P<v>(?!\[REDACTED:)"
       r"[\w.@-]+)", ("user",)),
    _r("username", r"\b(?:password|publickey|keyboard-interactive(?:/pam)?)[ \t]+for[ \t]+(?!(?:invalid|illegal)"
       r"[ \t])(?P<v>(?!\[REDACTED:)[\w.@-]+)[ \t]+from\b", (" for ",)),
    _r("high_entropy", rf"(?<![{_B64}])[{_B64}]{{{ENTROPY_MIN_LEN},}}={{0,2}}(?![{_B64}=])"),
)
BUILTIN_RULES: tuple[str, ...] = tuple(dict.fromkeys(r.name for r in _RULES))
OPTIONAL_RULES = ("ip", "username")  # off unless enabled: addresses and user names help diagnosis
_ALIASES = {"ips": "ip", "usernames": "username", "user": "username"}
_VALUE_GROUPS = ("v", "b", "v1", "v2", "v3", "v4")  # the secret part of a match, when not all of it
_NO_DIGITS = str.maketrans("", "", "0123456789")
_HASH_LABEL = re.compile(r"(?:sha\d*|md5|digest)[:=@]$", re.I)


@dataclass(frozen=True)
class RedactionConfig:
    """Which rules run. ``extra`` = (name, regex) user rules, run first so that their names win."""

    ips: bool = False
    usernames: bool = False
    disabled: frozenset[str] = frozenset()  # names of rules (built-in or extra) turned off
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "disabled", frozenset(_ALIASES.get(n, n) for n in self.disabled))
        object.__setattr__(self, "extra", tuple((str(n), str(rx)) for n, rx in self.extra))
        names = [n for n, _ in self.extra]
        for name, rx in self.extra:
            if not _NAME_RE.fullmatch(name):
                raise ValueError(f"redaction rule name {name!r}: use lower case letters, digits and _")
            if name in BUILTIN_RULES or names.count(name) > 1:
                raise ValueError(f"redaction rule {name!r} is defined twice (built-in: {', '.join(BUILTIN_RULES)})")
            try:
                compiled = re.compile(rx)
            except re.error as exc:
                raise ValueError(f"redaction rule {name!r}: bad regex {rx!r}: {exc}") from None
            if compiled.match("") is not None:
                raise ValueError(f"redaction rule {name!r}: regex {rx!r} matches the empty string")
        unknown = sorted(self.disabled - set(BUILTIN_RULES) - set(names))
        if unknown:
            raise ValueError(f"unknown redaction rule {unknown[0]!r} (known: {', '.join(BUILTIN_RULES)})")

    @property
    def rules(self) -> tuple[str, ...]:
        """The active rule names, in the order they run."""
        on = {"ip": self.ips, "username": self.usernames}
        names = [n for n, _ in self.extra] + [n for n in BUILTIN_RULES if on.get(n, True)]
        return tuple(n for n in names if n not in self.disabled)

    @classmethod
    def from_spec(cls, specs: Iterable[str] | str) -> RedactionConfig:
        """Parse CLI items: ``-email`` (off), ``+ip`` (on), ``name=REGEX`` (extra rule), e.g.
        ``RedactionConfig.from_spec(["-email", "+ip", "customer=CUST-[0-9]{6}"])``."""
        ips = usernames = False
        disabled: set[str] = set()
        extra: list[tuple[str, str]] = []
        for item in [specs] if isinstance(specs, str) else specs:
            item = item.strip()
            if "=" in item and item[:1] not in "+-":
                name, rx = item.split("=", 1)
                extra.append((name.strip(), rx))
                continue
            sign, name = item[:1], _ALIASES.get(item[1:].strip().lower(), item[1:].strip().lower())
            if sign not in ("+", "-") or not name:
                raise ValueError(f"bad redaction spec {item!r}: use -RULE, +RULE or NAME=REGEX")
            if name not in BUILTIN_RULES and name not in [n for n, _ in extra]:
                raise ValueError(f"bad redaction spec {item!r}: unknown rule {name!r} "
                                 f"(known: {', '.join(BUILTIN_RULES)})")
            if name == "ip":
                ips = sign == "+"
            elif name == "username":
                usernames = sign == "+"
            (disabled.discard if sign == "+" else disabled.add)(name)
        return cls(ips, usernames, frozenset(disabled), tuple(extra))


@lru_cache(maxsize=64)
def _compiled(config: RedactionConfig) -> tuple[_Rule, ...]:
    active = set(config.rules)
    extra = tuple(_Rule(n, re.compile(rx)) for n, rx in config.extra if n in active)
    return extra + tuple(r for r in _RULES if r.name in active)


def _high_entropy(token: str, before: str) -> str | None:
    """Placeholders for the random-looking parts of a token; a path is judged segment by segment."""
    if _HASH_LABEL.search(before[-8:]):
        return None  # a labelled digest (sha256:...) is an identifier, not a secret
    parts = token.split("/")
    if len(parts) > 1 and not any(re.fullmatch(r"[a-z]{3,}|[A-Z][a-z]{2,}", p) for p in parts):
        parts = [token]  # no word-like segment: base64 with a slash, not a path
    out = [PLACEHOLDER.format("high_entropy") if looks_random(p) else p for p in parts]
    return "/".join(out) if out != parts else None


def _replace(rule: _Rule, spans: list[tuple[int, int]], counts: dict[str, int], m: re.Match[str]) -> str:
    """The replacement of one match (the match itself when it is kept)."""
    start, end = m.span()
    if any(s < end and start < e for s, e in spans):
        return m.group(0)  # never rewrite (or count) an earlier placeholder
    if rule.name == "high_entropy":
        new = _high_entropy(m.group(0), m.string[max(0, start - 8):start])
        if new is None:
            return m.group(0)
        counts["high_entropy"] = counts.get("high_entropy", 0) + new.count("[REDACTED:")
        return new
    group = next((g for g in _VALUE_GROUPS if g in rule.pattern.groupindex and m.group(g) is not None), None)
    if rule.check is not None and not rule.check(m.group(group or 0)):
        return m.group(0)
    counts[rule.name] = counts.get(rule.name, 0) + 1
    if group is None:
        return PLACEHOLDER.format(rule.name)
    return m.string[start:m.start(group)] + PLACEHOLDER.format(rule.name) + m.string[m.end(group):end]


def redact(text: str, config: RedactionConfig | None = None) -> Redacted:
    """``text`` with every secret the active rules find replaced by ``[REDACTED:<rule>]``."""
    low = text.lower()  # pre-filters: a replacement only removes text, so the original decides
    digits = len(text) - len(text.translate(_NO_DIGITS))
    counts: dict[str, int] = {}
    for rule in _compiled(config or _DEFAULT):
        if (rule.needles and not any(n in low for n in rule.needles)) or digits < rule.min_digits:
            continue
        if rule.pattern.search(text) is None:  # the common case: no closure, no copy
            continue
        spans = [p.span() for p in _PLACEHOLDER_RE.finditer(text)] if "[REDACTED:" in text else []
        text = rule.pattern.sub(partial(_replace, rule, spans, counts), text)
    return Redacted(text, counts)


_DEFAULT = RedactionConfig()
