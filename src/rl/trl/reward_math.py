# Part of the script `webgrpo export-trl` writes (composed in src/rl/export-trl.ts; markers in
# src/rl/trl/template.ts). The 'math' reward (src/rl/rewards).
# The script gets everything below the @webgrpo-start line; the imports above it are only there so
# that this file reads, compiles and imports on its own.
import math
import re

from text_helpers import completion_text, last_answer_tag, last_boxed, last_hash_answer

# @webgrpo-start
# Equivalence of a final answer and the gold answer: math_verify (pip install math-verify) when it is
# installed, else (and whenever math_verify says no) a numeric comparison with a small LaTeX
# clean-up, then an exact comparison of the normalised text. webgrpo's own checker (latex.ts) accepts
# more forms than the fallback (e.g. (3,\pi/2) tuples); install math_verify for LaTeX answers.
try:
    from math_verify import parse as _mv_parse, verify as _mv_verify

    MATH_VERIFY = True
except ImportError:
    MATH_VERIFY = False


def extract_answer(completion):
    """The final answer of a completion, as webgrpo's extractAnswer: the last <answer> block (its last
    \\boxed{} or '#### N' if it has one), else the last \\boxed{} anywhere, else the last '#### N'."""
    tagged = last_answer_tag(completion)
    if tagged is not None:
        inner = last_boxed(tagged)
        if inner is None:
            inner = last_hash_answer(tagged)
        return tagged if inner is None else inner
    boxed = last_boxed(completion)
    return boxed if boxed is not None else last_hash_answer(completion)


def normalize_gold(gold):
    gold = str(gold)
    k = gold.rfind("####")
    if k < 0:
        return gold.strip()
    return re.sub(r"[,$]", "", gold[k + 4:].strip())


def _clean(s):
    s = s.strip().strip("$").strip()
    s = re.sub(r"\\(?:left|right|displaystyle|!|,|;)", "", s)
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\^\s*\{?\\circ\}?", "", s)
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "").replace("$", "")
    s = re.sub(r"^[A-Za-z]\s*=\s*", "", s)
    s = re.sub(r"(\d),(\d{3})", r"\1\2", s)
    return re.sub(r"\s+", "", s)


def _to_number(s):
    s = _clean(s)
    m = re.fullmatch(r"(-?)\\[dt]?frac\{?(\d+(?:\.\d+)?)\}?\{?(\d+(?:\.\d+)?)\}?", s)
    if m:
        value = float(m.group(2)) / float(m.group(3))
        return -value if m.group(1) else value
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)", s)
    if m:
        return float(m.group(1)) / float(m.group(2))
    try:
        return float(s)
    except ValueError:
        return None


def answers_equal(answer, gold):
    if MATH_VERIFY:
        try:
            if _mv_verify(_mv_parse("\\boxed{" + gold + "}"), _mv_parse("\\boxed{" + answer + "}")):
                return True
        except Exception:
            pass
    a, g = _to_number(answer), _to_number(gold)
    if a is not None and g is not None:
        return math.isclose(a, g, rel_tol=1e-9, abs_tol=1e-9)
    return _clean(answer) == _clean(gold)


def _grade(completions, golds, math_verify_whole_text):
    rewards = []
    for completion, gold in zip(completions, golds):
        if gold is None or str(gold).strip() == "":
            rewards.append(None)
            continue
        text, gold = completion_text(completion), normalize_gold(gold)
        if math_verify_whole_text and MATH_VERIFY:
            try:
                gold_parsed = _mv_parse(gold)
                if len(gold_parsed) == 0:
                    rewards.append(None)  # a gold math_verify cannot parse: not applicable
                    continue
                rewards.append(1.0 if _mv_verify(gold_parsed, _mv_parse(text)) else 0.0)
                continue
            except Exception:
                pass
        predicted = extract_answer(text)
        rewards.append(1.0 if predicted is not None and answers_equal(predicted, gold) else 0.0)
    return rewards


def math_reward(completions, answer=None, **kwargs):
    """webgrpo 'math' (Math-Verify's semantics, as TRL's accuracy_reward): math_verify parses the gold and
    the whole completion; None for a gold it cannot parse. Without math_verify: the last <answer>,
    \\boxed{} or '#### N' compared by the fallback below."""
    return _grade(completions, answer if answer is not None else [None] * len(completions), True)


def boxed_math_reward(completions, answer=None, **kwargs):
    """webgrpo 'boxed_math': only the final \\boxed{} (or <answer>, '#### N') counts, compared with the gold."""
    return _grade(completions, answer if answer is not None else [None] * len(completions), False)


math_reward.__name__ = "math"  # TRL logs rewards/<__name__>/mean, as webgrpo's rewards/math/mean
boxed_math_reward.__name__ = "boxed_math"
