"""Reference values for the agora-choice tests.

Run with a Python that has numpy and scipy:

    python crates/agora-choice/tests/reference/make_reference.py

Every number printed here is pasted as a literal into the Rust tests, next to a
comment naming the section of this script that produced it. Nothing here is run by
the Rust test suite.
"""

import numpy as np
from scipy.optimize import minimize

np.set_printoptions(precision=17)


def mnl_negll(beta, tasks):
    total = 0.0
    for X, c in tasks:
        u = X @ beta
        m = u.max()
        total += u[c] - m - np.log(np.exp(u - m).sum())
    return -total


def mnl_grad(beta, tasks):
    g = np.zeros_like(beta)
    for X, c in tasks:
        u = X @ beta
        p = np.exp(u - u.max())
        p /= p.sum()
        g += X[c] - p @ X
    return -g


def mnl_information(beta, tasks):
    k = len(beta)
    info = np.zeros((k, k))
    for X, c in tasks:
        u = X @ beta
        p = np.exp(u - u.max())
        p /= p.sum()
        xbar = p @ X
        D = X - xbar
        info += (D * p[:, None]).T @ D
    return info


def fit(tasks, k):
    res = minimize(
        mnl_negll,
        np.zeros(k),
        args=(tasks,),
        jac=mnl_grad,
        hess=mnl_information,
        method="trust-exact",
        options={"gtol": 1e-12, "maxiter": 1000},
    )
    print("max |gradient| at optimum:", np.abs(mnl_grad(res.x, tasks)).max())
    cov = np.linalg.inv(mnl_information(res.x, tasks))
    return res, cov


def section(title):
    print()
    print("#" * 8, title)


# ---------------------------------------------------------------- mnl_small
# scipy trust-exact with the analytic gradient and information (minus Hessian).
# 12 tasks x 3 alternatives x 3 columns (brand dummy, feature dummy, price).
MNL_SMALL = [
    ([[1, 0, 1], [0, 1, 2], [0, 0, 3]], 0),
    ([[0, 1, 1], [1, 1, 3], [0, 0, 2]], 1),
    ([[1, 1, 2], [0, 0, 1], [0, 1, 3]], 0),
    ([[0, 0, 1], [1, 0, 2], [1, 1, 3]], 0),
    ([[1, 0, 3], [0, 1, 1], [0, 0, 2]], 1),
    ([[0, 1, 2], [1, 0, 1], [1, 1, 3]], 2),
    ([[1, 1, 1], [0, 1, 3], [0, 0, 2]], 0),
    ([[0, 0, 3], [1, 0, 1], [0, 1, 2]], 2),
    ([[1, 0, 2], [1, 1, 1], [0, 0, 3]], 1),
    ([[0, 1, 3], [0, 0, 1], [1, 0, 2]], 1),
    ([[1, 1, 3], [0, 1, 2], [1, 0, 1]], 1),
    ([[0, 0, 2], [1, 1, 2], [0, 1, 1]], 0),
]
section("mnl_small")
tasks = [(np.array(X, dtype=float), c) for X, c in MNL_SMALL]
res, cov = fit(tasks, 3)
print("converged:", res.success, res.message)
print("beta =", repr(res.x))
print("se =", repr(np.sqrt(np.diag(cov))))
print("cov =", repr(cov))
print("loglik =", repr(-res.fun))
print("probabilities of task 1 at beta:", repr(np.exp(tasks[0][0] @ res.x) / np.exp(tasks[0][0] @ res.x).sum()))


# ---------------------------------------------------------------- maxdiff_small
# 4 items, 3 per task; (shown, best, worst). Sequential best-worst logit: best among
# shown with +u, worst among the rest with -u; u of item 3 fixed at 0.
MAXDIFF_SMALL = [
    ([0, 1, 2], 0, 2),
    ([1, 2, 3], 1, 3),
    ([0, 2, 3], 0, 3),
    ([0, 1, 3], 1, 3),
    ([0, 1, 2], 1, 2),
    ([1, 2, 3], 3, 2),
    ([0, 2, 3], 2, 0),
    ([0, 1, 3], 0, 1),
    ([0, 1, 2], 2, 0),
    ([1, 2, 3], 1, 2),
    ([0, 2, 3], 3, 2),
    ([0, 1, 3], 0, 3),
]
section("maxdiff_small")
n_items = 4


def item_row(i, sign):
    row = np.zeros(n_items - 1)
    if i < n_items - 1:
        row[i] = sign
    return row


md_tasks = []
for shown, best, worst in MAXDIFF_SMALL:
    md_tasks.append((np.array([item_row(i, 1.0) for i in shown]), shown.index(best)))
    rest = [i for i in shown if i != best]
    md_tasks.append((np.array([item_row(i, -1.0) for i in rest]), rest.index(worst)))
res, cov = fit(md_tasks, n_items - 1)
print("converged:", res.success, res.message)
u = np.append(res.x, 0.0)
print("utilities =", repr(u))
print("se =", repr(np.sqrt(np.diag(cov))))
A = np.eye(n_items)[:, : n_items - 1] - 1.0 / n_items  # centring contrasts on free params
print("centred =", repr(u - u.mean()))
print("centred se =", repr(np.sqrt(np.einsum("ip,pq,iq->i", A, cov, A))))
print("loglik =", repr(-res.fun))


# ---------------------------------------------------------------- van_westendorp_small
# (too_cheap, cheap, expensive, too_expensive); the last two rows are dropped
# (unordered; missing).
VW_SMALL = [
    (5, 10, 20, 30),
    (15, 15, 25, 35),
    (5, 15, 20, 20),
    (10, 20, 30, 40),
    (20, 10, 30, 40),
    (float("nan"), 10, 20, 30),
]
section("van_westendorp_small")
vw = np.array(VW_SMALL, dtype=float)
ok = np.all(np.isfinite(vw), axis=1) & np.all(np.diff(vw, axis=1) >= 0, axis=1)
print("dropped:", int((~ok).sum()), "kept:", int(ok.sum()))
vw = vw[ok]
grid = np.unique(vw)
tc = np.array([(vw[:, 0] >= p).mean() for p in grid])
ch = np.array([(vw[:, 1] >= p).mean() for p in grid])
ex = np.array([(vw[:, 2] <= p).mean() for p in grid])
te = np.array([(vw[:, 3] <= p).mean() for p in grid])
print("grid =", grid.tolist())
print("too_cheap =", tc.tolist())
print("cheap =", ch.tolist())
print("expensive =", ex.tolist())
print("too_expensive =", te.tolist())


def crossing(dec, inc):
    d = dec - inc
    if d[0] < 0:
        return None
    for i in range(len(d)):
        if d[i] == 0:
            return grid[i]
        if i + 1 < len(d) and d[i] > 0 and d[i + 1] < 0:
            # root of the piecewise-linear difference on [p_i, p_{i+1}]
            return float(np.interp(0.0, [d[i + 1], d[i]], [grid[i + 1], grid[i]]))
    return None


print("pmc =", crossing(tc, 1 - ch))
print("pme =", crossing(1 - ex, te))
print("opp =", crossing(tc, te))
print("ipp =", crossing(ch, ex))


# ---------------------------------------------------------------- gabor_granger_small
# (price, buys) answers: 10 -> 3 of 4 yes, 20 -> 2 of 4, 30 -> 1 of 5.
section("gabor_granger_small")
from statsmodels.stats.proportion import proportion_confint  # noqa: E402

for price, yes, n in [(10, 3, 4), (20, 2, 4), (30, 1, 5)]:
    lo, hi = proportion_confint(yes, n, alpha=0.05, method="wilson")
    print(f"price {price}: demand {yes / n!r} wilson ({lo!r}, {hi!r}) revenue {price * yes / n!r}")


# ---------------------------------------------------------------- ssr
# The pmf written as in the public reference (pymc-labs/semantic-similarity-rating,
# compute.response_embeddings_to_pmf): similarities (1 + cos)/2, numerator
# gamma - gamma_min (+ eps at the first argmin), denominator sum - n*min (+ eps).
section("ssr")


def ssr_reference(response, anchors, eps):
    a = np.asarray(anchors, dtype=float).T
    a = a / np.linalg.norm(a, axis=0)[None, :]
    r = np.asarray(response, dtype=float)
    r = r / np.linalg.norm(r)
    g = (1 + r @ a) / 2
    num = g - g.min()
    num[np.argmin(g)] += eps
    return num / (g.sum() - len(g) * g.min() + eps)


RESPONSE = [0.9, 0.3, -0.2, 0.1]
ANCHORS_1 = [
    [-1.0, 0.2, 0.0, 0.0],
    [-0.5, 0.5, 0.1, 0.0],
    [0.0, 1.0, 0.0, 0.2],
    [0.6, 0.4, 0.0, 0.1],
    [1.0, 0.1, -0.1, 0.0],
]
ANCHORS_2 = [
    [-0.8, -0.1, 0.3, 0.0],
    [-0.3, 0.2, 0.2, 0.1],
    [0.1, 0.3, 0.4, 0.0],
    [0.5, 0.2, 0.0, 0.3],
    [0.9, 0.3, -0.3, 0.1],
]
p1 = ssr_reference(RESPONSE, ANCHORS_1, 0.0)
p2 = ssr_reference(RESPONSE, ANCHORS_2, 0.0)
mean_pmf = (p1 + p2) / 2
print("set 1 pmf (eps 0) =", repr(p1))
print("averaged pmf (eps 0) =", repr(mean_pmf))
print("mean rating =", repr(float(np.arange(1, 6) @ mean_pmf)))
# eps in the (1 + cos)/2 form is half of eps in the plain-cosine form: eps_here = 0.05
# corresponds to eps = 0.1 on plain cosines.
print("set 1 pmf (plain-cosine eps 0.1) =", repr(ssr_reference(RESPONSE, ANCHORS_1, 0.05)))


MASK = (1 << 64) - 1


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def lexical_embedding(text, dims):
    import re

    v = np.zeros(dims)
    for word in re.findall(r"[^\W_]+", text.lower()):
        h = fnv1a64(word.encode("utf-8"))
        v[h % dims] += 1.0 if h >> 63 == 0 else -1.0
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


print("fnv1a64('a') =", hex(fnv1a64(b"a")), " fnv1a64('foobar') =", hex(fnv1a64(b"foobar")))
TEXT = "I'd probably buy it - it's good value, really good!"
print("lexical_embedding(TEXT, 16) =", repr(lexical_embedding(TEXT, 16)))
LIKERT = [
    "I would definitely not buy it",
    "I would probably not buy it",
    "I might or might not buy it",
    "I would probably buy it",
    "I would definitely buy it",
]
e = lexical_embedding(TEXT, 64)
anchors = [lexical_embedding(t, 64) for t in LIKERT]
print("lexical ssr pmf (dims 64) =", repr(ssr_reference(e, anchors, 0.0)))
