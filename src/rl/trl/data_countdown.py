# Part of the script `webgrpo export-trl` writes (composed in src/rl/export-trl.ts; markers in
# src/rl/trl/template.ts). webgrpo's Countdown generator (countdown[:N] datasets).
# The script gets everything below the @webgrpo-start line (this file needs no imports).

# @webgrpo-start
# ---- dataset helpers ----
def countdown_question(nums, target):
    return (
        f"Using the numbers [{', '.join(str(n) for n in nums)}], create an equation that equals {target}. "
        "You can use basic arithmetic operations (+, -, *, /) and each number can only be used once. "
        "Show your work in <think> </think> tags. And return the final answer in <answer> </answer> tags, "
        "for example <answer> (1 + 2) / 3 </answer>."
    )


def countdown_problem(rng, count=None, max_target=100):
    """webgrpo's TinyZero Countdown generator (src/data/countdown.ts): count numbers in 1..99 (3 or 4,
    either when None) combined at random into a target in 1..max_target, so every problem is solvable."""

    def rint(lo, hi):
        return lo + int(rng.random() * (hi - lo + 1))

    n = count if count is not None else (3 if rng.random() < 0.5 else 4)
    attempt = 0
    while True:
        nums = [rint(1, 99) for _ in range(n)]
        terms = [(v, str(v), True) for v in nums]
        while len(terms) > 1:
            i = rint(0, len(terms) - 1)
            j = rint(0, len(terms) - 2)
            if j >= i:
                j += 1
            a, b = (terms[i], terms[j]) if terms[i][0] >= terms[j][0] else (terms[j], terms[i])
            ops = ["+", "*"]
            if a[0] > b[0]:
                ops.append("-")
            if b[0] > 1 and a[0] % b[0] == 0:
                ops.append("/")
            op = ops[rint(0, len(ops) - 1)]
            v = a[0] + b[0] if op == "+" else a[0] - b[0] if op == "-" else a[0] * b[0] if op == "*" else a[0] // b[0]
            wrap = lambda t: t[1] if t[2] else "(" + t[1] + ")"
            terms = [t for t in terms if t is not a and t is not b]
            terms.append((v, f"{wrap(a)} {op} {wrap(b)}", False))
        target, solution = terms[0][0], terms[0][1]
        if 1 <= target <= max_target or attempt >= 200:
            return {"nums": nums, "target": target, "solution": solution, "question": countdown_question(nums, target)}
        attempt += 1
