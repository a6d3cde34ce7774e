"""Tests of the redaction rules (``aiops.llm.redact``): what each rule catches, what it must leave alone.

The secrets below look real but are fake or public documentation examples (AWS's AKIAIOSFODNN7EXAMPLE,
jwt.io's sample token, Stripe's documented test key).

Run: ``.venv/bin/python -m pytest tests/test_llm_redact.py``
"""

from __future__ import annotations

import random
import string
import time

import pytest

from aiops.llm.redact import (
    BUILTIN_RULES,
    OPTIONAL_RULES,
    Redacted,
    RedactionConfig,
    looks_random,
    luhn_ok,
    redact,
    shannon_entropy,
)

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2"
       "MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi7K0Ck8oF2nbqTwzu4Gx\n"
       "9h0Ckf5Yc0Pq8Ht1BQzjv0WHLsK9mXAK4R3zWq2D+4Q==\n-----END RSA PRIVATE KEY-----")

# (rule, input, expected output): the structure around each secret survives.
POSITIVE = [
    ("password", "db connect failed password=hunter2 host=db1", "db connect failed password=[REDACTED:password] host=db1"),
    ("password", 'login {"user": "alice", "password": "S3cr3t!pass w0rd"}',
     'login {"user": "alice", "password": "[REDACTED:password]"}'),
    ("password", 'msg="{\\"db_passwd\\": \\"hunter 2\\"}"', 'msg="{\\"db_passwd\\": \\"[REDACTED:password]\\"}"'),
    ("password", "kwargs={'pwd': 'p@ss'} DB_PASSWORD: Tr0ub4dor&3", "kwargs={'pwd': '[REDACTED:password]'} "
     "DB_PASSWORD: [REDACTED:password]&3"),
    ("password", "mysql --password=Zq8!xw2 -h db", "mysql --password=[REDACTED:password] -h db"),
    ("secret", "GET /cb?code=ab12&access_token=ya29.a0AfH6SMBx3k&api_key=Zx81kd9&state=1 200",
     "GET /cb?code=ab12&access_token=[REDACTED:secret]&api_key=[REDACTED:secret]&state=1 200"),
    ("secret", "X-Api-Key: 8f3b2c1d9e7a6b5c4d3e2f1a0b9c8d7e", "X-Api-Key: [REDACTED:secret]"),
    ("secret", 'client_secret="s3cr3t-value" refresh_token=1//0gLx7 clientSecret: abc',
     'client_secret="[REDACTED:secret]" refresh_token=[REDACTED:secret] clientSecret: [REDACTED:secret]'),
    ("secret", "{'private_key': 'k3y', 'Credentials': 'c1', 'auth': 'hmac-77'}",
     "{'private_key': '[REDACTED:secret]', 'Credentials': '[REDACTED:secret]', 'auth': '[REDACTED:secret]'}"),
    ("secret", "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=Qm9vb3g%2Bfake%3D&se=2026",
     "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=[REDACTED:secret]&se=2026"),
    ("url_password", "connecting to postgres://app:s3cr3tP4ss@db.internal:5432/orders",
     "connecting to postgres://app:[REDACTED:url_password]@db.internal:5432/orders"),
    ("url_password", "broker redis://:hunter2@cache:6379/0", "broker redis://:[REDACTED:url_password]@cache:6379/0"),
    ("authorization", "headers Authorization: Bearer abcdef123456.xyz ok",
     "headers Authorization: Bearer [REDACTED:authorization] ok"),
    ("authorization", '"Authorization": "Basic dXNlcjpwYXNzd29yZA=="', '"Authorization": "Basic [REDACTED:authorization]"'),
    ("authorization", "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;range, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024 sent",
     "Authorization: AWS4-HMAC-SHA256 [REDACTED:authorization] sent"),
    ("authorization", "retrying with Bearer 0b79bab50daca910b000d4f1a2b675d6 now",
     "retrying with Bearer [REDACTED:authorization] now"),
    ("jwt", f"curl -H 'Authorization: Bearer {JWT}'", "curl -H 'Authorization: Bearer [REDACTED:jwt]'"),
    ("jwt", f"id_token={JWT}; path=/", "id_token=[REDACTED:jwt]; path=/"),
    ("aws_access_key", "using key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A", "using key "
     "[REDACTED:aws_access_key] and [REDACTED:aws_access_key]"),
    ("aws_secret_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "aws_secret_access_key = [REDACTED:aws_secret_key]"),
    ("google_api_key", "geocode?key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&q=x",
     "geocode?key=[REDACTED:google_api_key]&q=x"),
    ("github_token", "push with 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 failed",
     "push with [REDACTED:github_token] failed"),
    ("github_token", "GH=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF", "GH=[REDACTED:github_token]"),
    ("slack_token", "slack xoxb-2638910547-1183718937845-NO1fh2SmZhOaB1hNtGt5DYPc posted", "slack [REDACTED:slack_token] posted"),
    ("stripe_key", "stripe sk_live_51HqLyjWDarjtT1zdp7dcXk2 and sk_test_4eC39HqLyjWDarjtT1zdp7dc",
     "stripe [REDACTED:stripe_key] and [REDACTED:stripe_key]"),
    ("openai_key", "model call with sk-proj-aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5 -> 401",
     "model call with [REDACTED:openai_key] -> 401"),
    ("high_entropy", "session Zk9v3QmX7pL2rT8yW4nB6cD1eF0gH5jK9sA2 expired", "session [REDACTED:high_entropy] expired"),
    ("high_entropy", "nonce=dGhpcyBpcyBhIHNlY3JldCBub25jZSB2YWx1ZQ== x", "nonce=[REDACTED:high_entropy] x"),
    ("high_entropy", "hmac 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08b9e3d7c1e2f4a6b8",
     "hmac [REDACTED:high_entropy]"),
    ("private_key", f"loaded key {PEM} from vault", "loaded key [REDACTED:private_key] from vault"),
    ("private_key", '{"key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----"}',
     '{"key": "[REDACTED:private_key]"}'),
    ("private_key", "cut -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
     "cut [REDACTED:private_key]"),
    ("email", "Sent order confirmation to bob.smith+orders@example.co.uk (id 7)",
     "Sent order confirmation to [REDACTED:email] (id 7)"),
    ("email", "principal mailto:jane_doe%40example.org", "principal mailto:[REDACTED:email]"),
    ("card", "charge card 4111 1111 1111 1111 declined", "charge card [REDACTED:card] declined"),
    ("card", "pan=5555-5555-5555-4444 amex 378282246310005.", "pan=[REDACTED:card] amex [REDACTED:card]."),
]

# Ordinary log content that no default rule may touch.
NEGATIVE = [
    "2026-11-22T14:10:00.123Z INFO checkout: order ORD-12345678 paid in 182 ms",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 request 550e8400-e29b-41d4-a716-446655440000",
    "AAA7B7E6-9ABB-4B90-9399-6D0C72FF4310 deployed commit 3f2a9c1b7d4e8f6a5b0c9d8e7f6a5b4c3d2e1f0a",
    "image sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 pulled",
    "ref 4111111111111112 and 1234567890123456 fail Luhn; epoch_us 1764000000000000; blk_-6952295868487656571",
    "version 1.2.3.4 python 3.11.9 build 2026.11.22-rc1 from 10.0.0.7:8080 and fe80::1",
    "class Http2ServerConnectionHandler userService2CheckoutHandlerImpl TaskAttemptEventType",
    "AmazonDynamoDBv2ProvisionedThroughputExceeded OAuth2TokenIntrospectionV1Client XMLHttpRequestEventTarget",
    "pod checkout-7d9f8b6c5d-x2k4q node ap-southeast-2-Prod-Cluster01 -AirPortBrcm4360_Logs-007.txt",
    "GET /api/v2/Orders/GetById/42 HTTP/1.1 200 ua=Mozilla/5.0",
    "token_count=5 max_tokens=1024 author=bob bypass=1 passed=10 Unexpected token '<' at offset 30",
    "password=null token=\"\" secret=*** auth:SIMPLE Failed password for invalid user bob from 203.0.113.9",
    "session opened for user root(uid=0) by (uid=0)  user=carol  the bearer of bad news",
    "Exception in thread main java.lang.IllegalStateException: Connection pool shut down",
    "",
    "ünïcödé lïne with naïve café — 42 € paid",
]


@pytest.mark.parametrize(("rule", "text", "expected"), POSITIVE, ids=[f"{i}-{p[0]}" for i, p in enumerate(POSITIVE)])
def test_rule_redacts_and_keeps_structure(rule: str, text: str, expected: str) -> None:
    result = redact(text)
    assert result.text == expected
    assert rule in result.counts, result.counts
    assert sum(result.counts.values()) == expected.count("[REDACTED:")


@pytest.mark.parametrize("text", NEGATIVE)
def test_ordinary_lines_are_not_redacted(text: str) -> None:
    assert redact(text) == Redacted(text, {})


@pytest.mark.parametrize("text", [p[1] for p in POSITIVE] + NEGATIVE)
def test_idempotent(text: str) -> None:
    once = redact(text, RedactionConfig(ips=True, usernames=True))
    twice = redact(once.text, RedactionConfig(ips=True, usernames=True))
    assert twice.text == once.text
    assert twice.counts == {}


def test_counts_per_rule() -> None:
    text = "password=a1 pwd=b2 token=c3 bob@example.com eve@example.org key AKIAIOSFODNN7EXAMPLE"
    assert redact(text).counts == {"password": 2, "secret": 1, "email": 2, "aws_access_key": 1}


def test_optional_rules_are_off_by_default_and_can_be_enabled() -> None:
    line = "Failed password for invalid user bob from 203.0.113.9 port 22; Accepted publickey for alice from 2001:db8::1"
    assert redact(line).text == line
    assert set(RedactionConfig().rules) == set(BUILTIN_RULES) - set(OPTIONAL_RULES)
    result = redact(line, RedactionConfig(ips=True, usernames=True))
    assert result.text == ("Failed password for invalid user [REDACTED:username] from [REDACTED:ip] port 22; "
                           "Accepted publickey for [REDACTED:username] from [REDACTED:ip]")
    assert result.counts == {"ip": 2, "username": 2}
    ips = RedactionConfig.from_spec(["+ip"])
    assert redact("from 10.0.0.7:8080 via ::ffff:10.1.2.3, fe80::1%eth0.", ips).text == (
        "from [REDACTED:ip]:8080 via [REDACTED:ip], [REDACTED:ip].")
    # Things that look like addresses but are not: times, MACs, versions with more parts, C++ scopes.
    kept = "at 12:34:56 mac 00:1a:2b:3c:4d:5e v1.2.3.4 1.2.3.4.5 std::vector"
    assert redact(kept, ips).text == kept
    users = RedactionConfig.from_spec(["+username"])
    assert redact('session opened for user root by x user=carol {"username": "dave"}', users).text == (
        'session opened for user [REDACTED:username] by x user=[REDACTED:username] {"username": "[REDACTED:username]"}')


def test_rules_can_be_turned_off() -> None:
    line = "to bob@example.com password=hunter2"
    assert redact(line, RedactionConfig.from_spec(["-email"])).text == "to bob@example.com password=[REDACTED:password]"
    assert redact(line, RedactionConfig(disabled=frozenset({"email", "password"}))).text == line
    config = RedactionConfig.from_spec(["-email", "+email", "+ips", "-ip"])  # later items win
    assert "email" in config.rules and "ip" not in config.rules


def test_extra_rules_run_first_and_are_counted() -> None:
    config = RedactionConfig.from_spec(["customer=CUST-[0-9]{6}", "ticket=\\bT#\\d+"])
    assert config.rules[:2] == ("customer", "ticket")
    result = redact("refund for CUST-004211 (T#77) token=CUST-123456", config)
    assert result.text == "refund for [REDACTED:customer] ([REDACTED:ticket]) token=[REDACTED:customer]"
    assert result.counts == {"customer": 2, "ticket": 1}
    assert redact("CUST-004211", RedactionConfig.from_spec(["customer=CUST-[0-9]{6}", "-customer"])).counts == {}


@pytest.mark.parametrize(("spec", "message"), [
    (["email"], "use -RULE, +RULE or NAME=REGEX"),
    (["+"], "use -RULE, +RULE or NAME=REGEX"),
    (["-emial"], "unknown rule 'emial'"),
    (["cust=CUST-[0-9"], "bad regex"),
    (["Bad Name=x"], "use lower case letters"),
    (["any=a*"], "matches the empty string"),
    (["email=x@y"], "defined twice"),
    (["c=x", "c=y"], "defined twice"),
])
def test_bad_specs_fail_with_one_line(spec: list[str], message: str) -> None:
    with pytest.raises(ValueError, match="redaction") as info:
        RedactionConfig.from_spec(spec)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match="unknown redaction rule 'nope'"):
        RedactionConfig(disabled=frozenset({"nope"}))
    assert RedactionConfig(disabled=frozenset({"usernames"})).disabled == frozenset({"username"})


def test_luhn_and_entropy_helpers() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005") and not luhn_ok("4111111111111112")
    assert shannon_entropy("") == 0.0 and shannon_entropy("aaaa") == 0.0 and shannon_entropy("abcd") == 2.0


def test_random_tokens_are_caught_and_names_are_not() -> None:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_"
    tokens = ["".join(rng.choice(alphabet) for _ in range(32)) for _ in range(2000)]
    assert sum(map(looks_random, tokens)) / len(tokens) > 0.95  # measured ~98%: a safety net, not a guarantee
    hexes = ["".join(rng.choice("0123456789abcdef") for _ in range(n)) for n in (16, 32, 40) for _ in range(300)]
    assert not any(map(looks_random, hexes))


def test_speed_sanity(capsys: pytest.CaptureFixture[str]) -> None:
    """10k typical lines: measured and printed, not asserted (machines differ)."""
    rng = random.Random(1)
    templates = [
        "2026-11-22T14:{m:02d}:{s:02d}.{ms:03d}Z INFO checkout: order ORD-{n:08d} paid in {ms} ms trace_id={h}",
        '{{"ts": "2026-11-22T14:{m:02d}:{s:02d}Z", "level": "WARN", "svc": "api", "msg": "slow upstream", "ms": {ms}}}',
        "10.0.{m}.{s} - - [22/Nov/2026:14:{m:02d}:{s:02d} +0000] \"GET /api/v2/cart/{n} HTTP/1.1\" 200 {ms}",
        "Nov 22 14:{m:02d}:{s:02d} bastion-1 sshd[{n}]: Failed password for invalid user admin from 203.0.113.{s}",
        "2026-11-22 14:{m:02d}:{s:02d},{ms:03d} ERROR worker.email: Sent order confirmation to b***@example.com",
    ]
    lines = [rng.choice(templates).format(m=rng.randrange(60), s=rng.randrange(60), ms=rng.randrange(1000),
                                          n=rng.randrange(10**8), h=f"{rng.getrandbits(128):032x}")
             for _ in range(10_000)]
    start = time.perf_counter()
    for line in lines:
        redact(line)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nredact: 10,000 lines in {elapsed:.3f}s ({elapsed / len(lines) * 1e6:.1f} µs/line)")
