# Part of the script `webgrpo export-trl` writes (composed in src/rl/export-trl.ts; markers in
# src/rl/trl/template.ts). Text helpers: the same extraction rules as webgrpo; always included.
# The script gets everything below the @webgrpo-start line; the imports above it are only there so
# that this file reads, compiles and imports on its own.
import re

# @webgrpo-start
def completion_text(completion):
    """The text of a completion: a string, or (conversational) the contents of its messages."""
    if isinstance(completion, list):
        return "".join(m.get("content") or "" for m in completion if isinstance(m, dict))
    return str(completion)


def last_boxed(text):
    """The content of the last brace-matched \\boxed{...} in text, or None (as webgrpo's lastBoxed)."""
    found = None
    start = text.find("\\boxed{")
    while start >= 0:
        depth, end = 0, -1
        for i in range(start + len("\\boxed"), len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        if end < 0:
            return found
        found = text[start + len("\\boxed{"):end]
        start = text.find("\\boxed{", end + 1)
    return found


def last_answer_tag(text):
    """The content of the last <answer>...</answer> block, stripped, or None."""
    found = None
    for m in re.finditer(r"<answer>([\s\S]*?)</answer>", text):
        found = m.group(1).strip()
    return found


def last_hash_answer(text):
    """The text after the last GSM8K-style '####' up to the end of its line, or None."""
    k = text.rfind("####")
    if k < 0:
        return None
    line = text[k + 4:].split("\n")[0].strip()
    return line or None


def extract_gold_answer(text):
    """Gold answer of a dataset row: after the last '####' (',' and '$' removed), else the last \\boxed{}, else the text."""
    text = str(text)
    k = text.rfind("####")
    if k >= 0:
        return re.sub(r"[,$]", "", text[k + 4:].strip()).strip()
    if "\\boxed" in text:
        boxed = last_boxed(text)
        if boxed is not None:
            return boxed.strip()
    return text.strip()
