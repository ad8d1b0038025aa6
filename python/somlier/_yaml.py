"""The small part of YAML that MLmodel, conda.yaml and python_env.yaml files use.

Writes block-style YAML (sorted keys, strings quoted when they could be read as something
else) and reads what it writes plus what PyYAML's safe_dump writes for MLmodel files:
block mappings and sequences, plain and quoted scalars (quoted ones may continue over
several lines), null/bool/int/float, and the empty flow collections [] and {}.
"""
import re

_PLAIN_SAFE = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./\-+]*$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL = {"null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE",
            "yes", "no", "on", "off", "y", "n", ".nan", ".inf", "-.inf"}


def _scalar(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN_SAFE.match(text) and text not in _SPECIAL and not _FLOAT.match(text):
        return text
    return "'" + text.replace("'", "''") + "'"


def dump(data):
    """A mapping as block-style YAML text."""
    lines = []
    _dump_into(data, 0, lines)
    return "\n".join(lines) + "\n"


def _dump_into(value, indent, lines):
    pad = " " * indent
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if isinstance(item, dict) and item:
                lines.append(f"{pad}{_scalar(key)}:")
                _dump_into(item, indent + 2, lines)
            elif isinstance(item, (list, tuple)) and item:
                lines.append(f"{pad}{_scalar(key)}:")
                _dump_into(list(item), indent, lines)
            elif isinstance(item, dict):
                lines.append(f"{pad}{_scalar(key)}: {{}}")
            elif isinstance(item, (list, tuple)):
                lines.append(f"{pad}{_scalar(key)}: []")
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                sub = []
                _dump_into(item, indent + 2, sub)
                sub[0] = f"{pad}- " + sub[0][indent + 2:]
                lines.extend(sub)
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-")
                _dump_into(item, indent + 2, lines)
            else:
                lines.append(f"{pad}- {_scalar(item)}")


def _parse_scalar(text):
    if text in ("", "null", "Null", "NULL", "~"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


class _Lines:
    def __init__(self, text):
        self.items = []
        for raw in text.splitlines():
            stripped = raw.strip()
            if not stripped or stripped.startswith("#") or stripped == "---":
                continue
            self.items.append((len(raw) - len(raw.lstrip(" ")), raw.strip()))
        self.pos = 0

    def peek(self):
        return self.items[self.pos] if self.pos < len(self.items) else None


def _read_quoted(first, lines):
    """A quoted scalar starting at `first` (after the key), continuing over lines if open."""
    quote = first[0]
    text = first[1:]
    while True:
        out, i = [], 0
        while i < len(text):
            c = text[i]
            if c == quote:
                if quote == "'" and i + 1 < len(text) and text[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                return "".join(out), text[i + 1:].strip()
            if quote == '"' and c == "\\" and i + 1 < len(text):
                out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(text[i + 1], text[i + 1]))
                i += 2
                continue
            out.append(c)
            i += 1
        nxt = lines.peek()
        if nxt is None:
            raise ValueError(f"unclosed {quote} quote in YAML")
        lines.pos += 1
        text = text + " " + nxt[1]  # a line break inside a quoted scalar folds to a space


def _value(rest, lines):
    if rest.startswith(("'", '"')):
        value, tail = _read_quoted(rest, lines)
        if tail and not tail.startswith("#"):
            raise ValueError(f"unexpected text after a quoted value: {tail!r}")
        return value
    return _parse_scalar(rest.split(" #")[0].strip())


def _split_key(content):
    if content.startswith(("'", '"')):
        quote = content[0]
        end = content.index(quote, 1)
        while quote == "'" and content[end + 1:end + 2] == "'":
            end = content.index(quote, end + 2)
        key = content[1:end].replace("''", "'")
        rest = content[end + 1:].lstrip()
        if not rest.startswith(":"):
            raise ValueError(f"expected ':' after key {key!r}")
        return key, rest[1:].strip()
    key, _, rest = content.partition(":")
    return key.strip(), rest.strip()


def _block(lines, indent):
    line = lines.peek()
    if line is None or line[0] < indent:
        return None
    if line[1].startswith("- ") or line[1] == "-":
        return _sequence(lines, line[0])
    return _mapping(lines, line[0])


def _mapping(lines, indent):
    out = {}
    while True:
        line = lines.peek()
        if line is None or line[0] < indent:
            return out
        if line[0] > indent:
            raise ValueError(f"unexpected indentation at {line[1]!r}")
        if line[1].startswith("- "):
            return out
        lines.pos += 1
        key, rest = _split_key(line[1])
        if rest == "":
            nxt = lines.peek()
            if nxt is not None and (nxt[0] > indent or (nxt[0] == indent and nxt[1].startswith("- "))):
                out[key] = _block(lines, nxt[0])
            else:
                out[key] = None
        else:
            out[key] = _value(rest, lines)


def _sequence(lines, indent):
    out = []
    while True:
        line = lines.peek()
        if line is None or line[0] != indent or not (line[1].startswith("- ") or line[1] == "-"):
            return out
        lines.pos += 1
        rest = line[1][1:].strip()
        if rest == "":
            nxt = lines.peek()
            out.append(_block(lines, nxt[0]) if nxt and nxt[0] > indent else None)
        elif ":" in rest and not rest.startswith(("'", '"')) and not rest.startswith("{"):
            # "- key: value" starts a mapping whose other keys are indented to the key.
            lines.pos -= 1
            lines.items[lines.pos] = (indent + 2, rest)
            out.append(_mapping(lines, indent + 2))
        else:
            out.append(_value(rest, lines))


def load(text):
    """Parses YAML text of the supported subset."""
    lines = _Lines(text)
    if lines.peek() is None:
        return None
    result = _block(lines, 0)
    if lines.peek() is not None:
        raise ValueError(f"could not parse YAML near {lines.peek()[1]!r}")
    return result
