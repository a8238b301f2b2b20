# Part of the script `webgrpo export-trl` writes (composed in src/rl/export-trl.ts; markers in
# src/rl/trl/template.ts). The 'countdown' (TinyZero) reward.
# The script gets everything below the @webgrpo-start line; the imports above it are only there so
# that this file reads, compiles and imports on its own.
import ast
import math
import re

from text_helpers import completion_text, last_answer_tag

# @webgrpo-start
def _eval_arithmetic(expr):
    """Value of + - * / ( ) arithmetic over numbers, or None; walks the AST, never eval()."""
    if "**" in expr or "//" in expr:
        return None
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return None

    def value(node):
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            v = value(node.operand)
            return v if isinstance(node.op, ast.UAdd) else -v
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return a / b
        raise ValueError("unsupported expression")

    try:
        return value(tree)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def countdown_reward(completions, target=None, nums=None, numbers=None, **kwargs):
    """webgrpo 'countdown' (TinyZero): the last <answer> equation uses each number once and equals the
    target (|diff| < 1e-5) -> 1.0; any other answer -> 0.1; no <answer> -> 0; None without target/nums."""
    given_lists = nums if nums is not None else numbers
    rewards = []
    for i, completion in enumerate(completions):
        goal = target[i] if target is not None else None
        given = given_lists[i] if given_lists is not None else None
        if goal is None or given is None:
            rewards.append(None)
            continue
        equation = last_answer_tag(completion_text(completion))
        if equation is None:
            rewards.append(0.0)
            continue
        if not re.fullmatch(r"[\d+\-*/().\s]+", equation):
            rewards.append(0.1)
            continue
        used = sorted(int(d) for d in re.findall(r"\d+", equation))
        if used != sorted(int(n) for n in given):
            rewards.append(0.1)
            continue
        v = _eval_arithmetic(equation)
        rewards.append(1.0 if v is not None and math.isfinite(v) and abs(v - float(goal)) < 1e-5 else 0.1)
    return rewards


countdown_reward.__name__ = "countdown"
