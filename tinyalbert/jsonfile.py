"""Reading JSON that someone else wrote: whatever is wrong with it becomes one ValueError that
names where it came from.

`json.loads` fails in more ways than `json.JSONDecodeError`: text nested a few thousand levels
deep exceeds Python's recursion limit (RecursionError), and an integer of more than 4,300 digits
is refused with a plain ValueError that names no line. Every reader of a config, index, state or
data file goes through `parse_json`, so none of them lets those escape.
"""
from __future__ import annotations

import json
from pathlib import Path


def parse_json(text: str, where: str):
    """The value the JSON `text` holds; ValueError "`where`: not valid JSON (why)" otherwise."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        place = f"line {error.lineno} column {error.colno}" if "\n" in text else f"column {error.colno}"
        reason = f"{error.msg} at {place}"
    except RecursionError:
        reason = "nested too deeply"
    except ValueError as error:  # an integer too long to convert, a lone surrogate, ...
        reason = str(error)
    raise ValueError(f"{where}: not valid JSON ({reason})")


def read_json_object(path: Path) -> dict:
    """The JSON object (`{...}`) in the UTF-8 file at `path`; a ValueError naming the file if the
    bytes are not UTF-8, not JSON, or hold another kind of value (a list, a number)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (not UTF-8 text: {error.reason} at byte {error.start})") from None
    value = parse_json(text, str(path))
    if not isinstance(value, dict):
        raise ValueError(f"{path} must hold a JSON object {{name: value}}, not a {type(value).__name__}")
    return value
