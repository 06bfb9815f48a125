#!/usr/bin/env python3
"""Refreshes the code quoted in the docs from the files it comes from.

A block in docs/*.md or README.md marked `<!-- include: PATH -->` or `<!-- include: PATH#NAME -->`
(the lines between `<doc:NAME>` and `</doc:NAME>` in PATH) is replaced by the current text; a marker
followed by no block gets one. tests/test_docs.cpp fails when a quote and its source differ; this
script is how you bring them back in line after editing the code. Usage: tools/update_doc_includes.py
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LANG = {".cpp": "cpp", ".hpp": "cpp", ".build": "meson", ".py": "python", ".sh": "sh", "": "text"}


def region(path: pathlib.Path, name: str | None) -> str:
    lines = path.read_text().splitlines(keepends=True)
    if name is None:
        return "".join(lines)
    start = [i for i, l in enumerate(lines) if f"<doc:{name}>" in l]
    end = [i for i, l in enumerate(lines) if f"</doc:{name}>" in l]
    if len(start) != 1 or len(end) != 1:
        sys.exit(f"{path}: region '{name}' must be marked once by <doc:{name}> ... </doc:{name}>")
    body = [l for l in lines[start[0] + 1:end[0]] if not re.search(r"</?doc:[\w-]+>", l)]
    return "".join(body)


def refresh(md: pathlib.Path) -> bool:
    out, lines, i, changed = [], md.read_text().splitlines(keepends=True), 0, False
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        m = re.match(r"<!-- include: ([^#\s]+)(?:#([\w-]+))? -->\s*$", line)
        if not m:
            continue
        path = ROOT / m.group(1)
        text = region(path, m.group(2))
        fence = f"```{LANG.get(path.suffix, 'text')}\n"
        old = []
        if i < len(lines) and lines[i].startswith("```"):  # an existing block: replace it
            fence = lines[i]
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                old.append(lines[j])
                j += 1
            i = j + 1
        out += [fence, text, "```\n"]
        changed = changed or "".join(old) != text
    if changed:
        md.write_text("".join(out))
    return changed


if __name__ == "__main__":
    for md in sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")]):
        if refresh(md):
            print(f"updated {md.relative_to(ROOT)}")
