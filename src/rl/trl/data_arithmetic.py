# Part of the script `webgrpo export-trl` writes (composed in src/rl/export-trl.ts; markers in
# src/rl/trl/template.ts). webgrpo's arithmetic generator (arithmetic:LEVEL datasets).
# The script gets everything below the @webgrpo-start line (this file needs no imports).

# @webgrpo-start
# ---- dataset helpers ----
def arithmetic_problem(level, rng):
    """webgrpo's arithmetic task (src/data/arithmetic.ts): level 1 one-digit sums; level 2 two-digit
    sums; level 3 two-digit sums, differences and two-digit x one-digit products."""

    def rint(lo, hi):
        return lo + int(rng.random() * (hi - lo + 1))

    def boxed(question, steps, answer):
        return {"question": question, "answer": str(answer), "solution": steps + "\\boxed{" + str(answer) + "}"}

    if level == 1:
        a, b = rint(0, 9), rint(0, 9)
        return boxed(f"{a}+{b}", "", a + b)
    if level == 2 or rng.random() < 0.4:
        a, b = rint(10, 99), rint(10, 99)
        at, au, bt, bu = a - a % 10, a % 10, b - b % 10, b % 10
        return boxed(f"{a}+{b}", f"{at}+{bt}={at + bt}, {au}+{bu}={au + bu}, {at + bt}+{au + bu}={a + b}. ", a + b)
    if rng.random() < 0.5:
        a = rint(20, 99)
        b = rint(11, a)
        bt, bu = b - b % 10, b % 10
        return boxed(f"{a}-{b}", f"{a}-{bt}={a - bt}, {a - bt}-{bu}={a - b}. ", a - b)
    a, b = rint(11, 99), rint(2, 9)
    at, au = a - a % 10, a % 10
    return boxed(f"{a}*{b}", f"{at}*{b}={at * b}, {au}*{b}={au * b}, {at * b}+{au * b}={a * b}. ", a * b)
