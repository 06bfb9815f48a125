#!/usr/bin/python3
"""The real-language corpus of `make real`: English sentences written by WordNet's lexicographers
(the usage examples of WordNet 3.0, Debian package wordnet-base) and their Spanish translations by
Apertium, a rule-based translator (packages apertium, apertium-eng-spa). A model trained on it
learns to imitate Apertium. Sentences of 3-20 words, deduplicated, split into train / valid / test
by a hash of the English sentence, so the three never share a source.

    make_corpus.py OUT_DIR     writes OUT_DIR/{train,valid,test}.tsv (raw text: source TAB target)
"""
import hashlib
import os
import re
import subprocess
import sys

WORDNET = "/usr/share/wordnet"


def usage_examples():
    seen, out = set(), []
    for part in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(WORDNET, "data." + part), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  ") or "| " not in line:  # the licence header; synsets without a gloss
                    continue
                gloss = line.split("| ", 1)[1]
                for example in re.findall(r'"([^"]+)"', gloss):
                    sentence = " ".join(example.split())
                    if 3 <= len(sentence.split()) <= 20 and sentence not in seen:
                        seen.add(sentence)
                        out.append(sentence)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    english = usage_examples()
    # One sentence a paragraph: Apertium reads text as a stream, and with one sentence a line it
    # carries words across line ends ("the team is a unit" + "lard was ..." came back as "El equipo
    # es una manteca" + "de unidad era ..."); a blank line is a boundary it keeps.
    result = subprocess.run(["apertium", "-u", "eng-spa"], input="\n\n".join(english) + "\n", capture_output=True,
                            text=True, check=True)
    spanish = [" ".join(p.split()) for p in re.split(r"\n[ \t]*\n", result.stdout.strip("\n"))]
    if len(spanish) != len(english):
        sys.exit(f"apertium returned {len(spanish)} paragraphs for {len(english)} sentences")
    splits = {"train": [], "valid": [], "test": []}
    for en, es in zip(english, spanish):
        if not es or "\t" in en or "\t" in es:
            continue
        bucket = int(hashlib.sha1(en.encode("utf-8")).hexdigest(), 16) % 40
        splits["test" if bucket == 0 else "valid" if bucket == 1 else "train"].append(f"{en}\t{es}\n")
    for name, lines in splits.items():
        with open(os.path.join(out_dir, name + ".tsv"), "w", encoding="utf-8") as f:
            f.writelines(lines)
        print(f"{name}: {len(lines)} pairs")


if __name__ == "__main__":
    main()
