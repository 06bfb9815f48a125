#!/usr/bin/python3
"""Embeds a text file in C++ source at build time: writes its bytes as a raw string literal, for
`const char x[] =\n#include "OUT"\n;` (the translator's page). Usage: embed_text.py IN OUT"""
import sys

text = open(sys.argv[1], encoding="utf-8").read()
delimiter = "tg_page"
if ")" + delimiter + '"' in text:
    sys.exit(f"{sys.argv[1]}: holds the raw string's delimiter")
# Raw string literals are limited in length by some compilers: pieces of 60,000 bytes, concatenated.
pieces = [text[i:i + 60000] for i in range(0, len(text), 60000)] or [""]
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("\n".join(f'R"{delimiter}({p}){delimiter}"' for p in pieces) + "\n")
