"""The heuristics behind `PromptInjectionScreen`: normalised views of a text (to see through
obfuscation) and the patterns searched in each.

Attack classes after the OWASP Top 10 for LLM Applications (LLM01: Prompt Injection) and
Greshake et al. 2023 ("Not what you've signed up for: Compromising Real-World LLM-Integrated
Applications with Indirect Prompt Injection"): instruction overrides, role reassignment,
prompt and data exfiltration, concealment from the user, tool hijacking and fake
chat-template tokens, in several languages; obfuscated by leetspeak, spacing, zero-width
characters, full-width or look-alike letters, HTML entities, Unicode tag characters, base64
and ROT13.
"""

# ruff: noqa: RUF001 - the look-alike letters below are on purpose
from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
from collections.abc import Iterator

__all__ = ["DEFAULT_INJECTION_PATTERNS", "views"]

_IGNORE = r"(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|stop following|neglect)"
_PRIOR = (
    r"(?:previous|prior|above|earlier|preceding|initial|original|all|any|every|your|the|these"
    r"|those|system|developer|safety|my)"
)
_RULES = (
    r"(?:instructions?|prompts?|rules|directions|guidelines|guidance|commands|orders|programming"
    r"|constraints|restrictions|guardrails|polic(?:y|ies)|everything you (?:were|have been) told)"
)
_PERSONA = (
    r"(?:unrestricted|jailbroken|uncensored|unfiltered|evil|malicious|dan\b|no (?:rules|limits"
    r"|restrictions|filters|guidelines)|without (?:any )?(?:rules|limits|restrictions|filters)"
    r"|not bound|free from|a hacker|an? (?:ai|assistant|model) (?:that|who|with|without))"
)
_SECRET = (
    r"(?:system prompt|system message|hidden (?:instructions|prompt|rules)|(?:your|the) "
    r"(?:initial |original |secret |hidden )?(?:instructions|prompt)|initial prompt|developer "
    r"message|configuration|api keys?|secrets?|passwords?|credentials)"
)
_AGENT = r"(?:assistant|ai|a\.i\.|model|llm|chatbot|bot|agent|gpt|claude)"

DEFAULT_INJECTION_PATTERNS: tuple[str, ...] = (
    # instruction overrides
    rf"\b{_IGNORE}\b[^.\n]{{0,60}}?\b{_PRIOR}\b[^.\n]{{0,40}}?\b{_RULES}",
    rf"\b(?:new|updated|revised|real|actual)\s+(?:system\s+)?{_RULES}\s*(?:from [^:\n]{{0,40}})?:",
    r"\b(?:system|admin|developer)\s+override\b",
    # role reassignment
    rf"\byou are now\b[^.\n]{{0,40}}?(?:{_PERSONA}|\bdan\b)",
    rf"\bfrom now on,? you (?:will|must|are|shall)\b[^.\n]{{0,60}}?(?:{_PERSONA}|never refuse"
    r"|obey|ignore)",
    rf"\b(?:pretend|act) (?:to be|you are|as|like)\b[^.\n]{{0,30}}?{_PERSONA}",
    r"\byou are no longer\b[^.\n]{0,40}\b(?:assistant|ai|model|bound|helpful|restricted)",
    r"\b(?:enable|activate|enter)\s+(?:developer|dan|god|jailbreak)\s+mode\b[^.\n]{0,60}"
    r"(?:respond|answer|without|ignore|no)",
    r"\bjailbr(?:ea|o)k",
    # prompt / secret exfiltration
    rf"\b(?:reveal|print|show|repeat|output|tell me|leak|display|dump|disclose|recite|write out)"
    rf"\b[^.\n]{{0,40}}?\b{_SECRET}",
    # concealment and exfiltration of data
    r"\b(?:do not|don't|never|without)\s+(?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|alert"
    r"(?:ing)?|notify(?:ing)?)\s+(?:it\s+to\s+|this\s+to\s+)?the user\b",
    r"\b(?:quietly|secretly|silently)\b[^.\n]{0,40}\b(?:send|add|forward|upload|delete|transfer"
    r"|bcc|copy)\b",
    rf"\b{_AGENT}\b\s*[:,]\s*(?:please\s+)?(?:ignore|send|forward|call|run|execute|invoke|delete"
    r"|transfer|upload|email|recommend)\b",
    r"\b(?:send|forward|upload|exfiltrate|post|email)\b[^.\n]{0,30}\b(?:entire|all|whole|every)"
    r"\b[^.\n]{0,30}\b(?:conversation|history|emails?|inbox|files|data|messages|secrets)\b"
    r"[^.\n]{0,30}\bto\b",
    r"\bwhen you (?:read|see|process) this\b",
    # fake chat-template tokens and role markers
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext|begin_of_text|start_header_id)\|>",
    r"\[/?INST\]|<<\s*/?SYS\s*>>",
    r"(?m)^\s*(?:#{1,4}\s*)?(?:system|assistant)\s*:[^\n]{0,80}?\b(?:you|your|ignore|must"
    r"|obey|reveal|override|polic(?:y|ies)|previous|instructions?|respond|the assistant)\b",
    r"<\s*/?\s*(?:system|instructions?)\s*>[^<]{0,200}?(?:override|ignore|reveal|respond|obey)",
    # other languages (accents removed by the normalisation)
    r"\b(?:ignora|olvida|ignorez|ignore|oubliez|oublie|ignoriere|vergiss|dimentica|esqueca"
    r"|negeer|vergeet)\b[^.\n]{0,40}\b(?:instrucciones|instructions|anweisungen|istruzioni"
    r"|instrucoes|instructies|regles|reglas|regeln|regole|regras)\b",
    r"\b(?:ahora eres|vous etes maintenant|tu es maintenant|du bist jetzt|ora sei|agora voce e"
    r"|je bent nu)\b",
    r"(?:(?:про)?игнориру(?:й|и|йте|ите)|забуд(?:ь|ьте))[^.\n]{0,40}(?:инструкци|указани"
    r"|правил)",
    r"теперь ты\b",
    r"(?:忽略|无视|無視|忽視|不要理会|不要理會)[^。\n]{0,15}(?:指令|指示|说明|說明|提示|规则|規則)",
    r"(?:指令|指示|说明|說明|提示|规则|規則)[^。\n]{0,10}(?:忽略|无视|無視|忽視)",
    r"现在你是|現在你是",
    r"(?:指示|命令|ルール)[^。\n]{0,10}無視|無視して[^。\n]{0,10}(?:指示|命令)",
    r"(?:지시|명령|규칙)[^.\n]{0,10}무시",
)
"""Heuristics for indirect prompt injection, searched case-insensitively in every view of a
text (see `views`)."""

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_LEET = str.maketrans("0134578@$|!", "oieastbasii")
# Cyrillic and Greek letters that look like Latin ones (Unicode confusables, the common ones).
_CONFUSABLE = str.maketrans(
    "аеорсухіјѕԁԛԝАЕОРСУХІЈЅΑΒΕΗΙΚΜΝΟΡΤΧΥΖ",
    "aeopcyxijsdqwAEOPCYXIJSABEHIKMNOPTXYZ",
)
_SPACED = re.compile(r"(?<![\w])(?:\w[ .\-_*·]{1,3}){3,}\w(?![\w])")
_GAP = re.compile(r"[ .\-_*·]{1,3}")
_WIDE_GAP = re.compile(r"[ .\-_*·]{3,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{20,}={0,2}")
_MAX_DECODED = 20


def _normalise(text: str) -> str:
    """NFKC (full-width letters become ASCII), zero-width characters and soft hyphens
    removed, Unicode tag characters (U+E0020-E007E, "ASCII smuggling") turned into the
    ASCII they hide, accents of Latin letters stripped (other scripts, e.g. Hangul and
    "й", are kept whole), lower case."""
    text = text.translate(_ZERO_WIDTH)
    text = "".join(chr(ord(c) - 0xE0000) if 0xE0020 <= ord(c) <= 0xE007E else c for c in text)
    kept: list[str] = []
    for char in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text)):
        if unicodedata.combining(char) and kept and ord(kept[-1]) < 0x250:
            continue  # an accent on a Latin letter ("é" -> "e"); others are recomposed
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept)).lower()


def _despace(text: str) -> str:
    """Letters written apart ("i g n o r e   a l l", "i.g.n.o.r.e") joined back into words
    (a run of three or more separators still separates words)."""

    def join(match: re.Match[str]) -> str:
        return " ".join(_GAP.sub("", word) for word in _WIDE_GAP.split(match.group(0)))

    return _SPACED.sub(join, text)


def _decoded(text: str) -> Iterator[str]:
    """The printable UTF-8 text of base64-looking runs (at most 20 of them)."""
    for count, match in enumerate(_BASE64.finditer(text)):
        if count >= _MAX_DECODED:
            return
        blob = match.group(0)
        try:
            data = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            decoded = data.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if decoded.isprintable() or all(c.isprintable() or c.isspace() for c in decoded):
            yield decoded


def views(text: str) -> Iterator[str]:
    """`text` as the model might read it: normalised, then with look-alike letters mapped to
    Latin, leetspeak read as letters, spaced-out letters joined, HTML entities decoded, ROT13
    undone, and base64 payloads decoded (each view normalised)."""
    base = _normalise(text)
    yield base
    yield base.translate(_CONFUSABLE)
    yield _despace(base).translate(_LEET)
    yield _despace(base.translate(_CONFUSABLE))
    unescaped = html.unescape(text)
    if unescaped != text:
        yield _normalise(unescaped)
    yield codecs.decode(base, "rot13")
    for decoded in _decoded(text):
        yield _normalise(decoded)
