"""What the lab says, in each of its languages: the catalogues in locales/<lang>/*.toml, and messages (a catalogue
key and the values to fill in) that core returns where it has something to tell a person.

Core decides *what* to say (a reading of measured data, why an upload was refused) and returns it as a Message or
raises it as an Explained error; the interface words it in the session's language (ui.i18n). Keys are dotted
(`equivariance.verdict_exact`); templates use named placeholders with str.format specs (`{error:.2g}`). A value
that is itself a Message is worded in the same language first (a kernel's or a model's name inside a sentence);
`listing` makes one phrase of several items, joined the way each language joins a list.
"""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

LOCALES = Path(__file__).resolve().parents[1] / "locales"
LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """Every key of one language, from all its files, flattened to dotted keys. A key defined twice is an error."""
    if lang not in LANGUAGES:
        raise KeyError(f"no catalogue for language {lang!r}: choose one of {', '.join(LANGUAGES)}")

    def flatten(table: dict, prefix: str, into: dict[str, str], source: str) -> None:
        for k, v in table.items():
            if isinstance(v, dict):
                flatten(v, f"{prefix}{k}.", into, source)
            elif f"{prefix}{k}" in into:
                raise ValueError(f"{prefix}{k} is defined twice in locales/{lang} (again in {source})")
            else:
                into[f"{prefix}{k}"] = v

    out: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.toml")):
        flatten(tomllib.loads(path.read_text(encoding="utf-8")), "", out, path.name)
    return out


class Message(NamedTuple):
    """Something to say: a catalogue key and the values for its placeholders."""
    key: str
    values: dict[str, Any] = {}

    def text(self, lang: str = DEFAULT) -> str:
        return text(lang, self.key, **self.values)

    def __str__(self) -> str:
        return self.text(DEFAULT)


def say(key: str, **values: Any) -> Message:
    """In core, where no language is known: the sentence `key` with its values, worded later by the interface
    (ui.i18n.words) in the session's language. The interface itself calls ui.i18n.t instead."""
    return Message(key, values)


def text(lang: str, key: str, **values: Any) -> str:
    """The sentence `key` in `lang`, its placeholders filled (Message values worded in `lang` first)."""
    template = catalogue(lang)[key]
    if not values:
        return template
    return template.format(**{k: v.text(lang) if isinstance(v, Message) else v for k, v in values.items()})


def listing(items, how: str = "enumeration") -> Message | str:
    """Items (texts or Messages) as one phrase, joined as the language joins a list (locales: common.list.*):
    `enumeration` for names ("a, b" / "a、b"), `comma` and `semicolon` for clauses, `and` for names with the last
    one joined by "and" ("a, b and c" / "a、b 和 c"), `sentences` for whole sentences. "" for no items."""
    items = list(items)
    if not items:
        return ""
    out = items[-1]
    for i, item in enumerate(reversed(items[:-1])):
        out = say(f"common.list.{how if how != 'and' or i == 0 else 'enumeration'}", first=item, rest=out)
    return out


class Explained(Exception):
    """An error fit to show a person: raised with a catalogue key and values; str() is the English sentence,
    `message` lets the interface word it in the session's language."""

    def __init__(self, key: str, **values: Any):
        self.message = Message(key, values)
        super().__init__(self.message.text(DEFAULT))
