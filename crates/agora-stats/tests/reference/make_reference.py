"""Reference values for the agora-stats unit tests.

Run with a Python that has numpy, scipy, statsmodels and pandas:
    python make_reference.py
Each printed line is `label = value`; the Rust tests record the values as literals and name
the label (and the call that produced it) beside each one.
"""
import numpy as np
import scipy
import scipy.stats as st
from scipy.spatial.distance import jensenshannon
import statsmodels
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

DATA_A = np.array([5.1, 4.9, 6.2, 5.8, 6.0, 5.5, 5.3, 6.1])
DATA_B = np.array([4.8, 5.0, 5.2, 4.6, 5.1, 4.9, 5.3])
TREATED = np.array([3.1, 2.4, 4.0, 3.3, 2.9, 3.8, 3.5, 2.2, 3.0])
CONTROL = np.array([2.8, 2.5, 3.1, 3.0, 2.6, 3.3, 3.6, 2.0, 2.4])
CLUSTER_OBS = [(0, 1.2), (0, 1.9), (0, 1.4), (1, 2.3), (1, 2.8), (2, 0.7), (2, 1.1),
               (2, 0.9), (2, 1.5), (3, 2.0), (3, 1.6)]
P = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
Q = np.array([0.3, 0.3, 0.2, 0.1, 0.1])
P2 = np.array([0.5, 0.5, 0.0, 0.0])
Q2 = np.array([0.0, 0.25, 0.25, 0.5])
KS_A = np.array([1.0, 2.0, 2.0, 3.0, 3.0, 3.0])
KS_B = np.array([2.0, 3.0, 3.0, 4.0, 4.0])


def show(label, value):
    print(f"{label} = {value!r}")


print(f"# numpy {np.__version__}, scipy {scipy.__version__}, statsmodels {statsmodels.__version__}")

# describe
show("np.mean(A)", float(np.mean(DATA_A)))
show("np.var(A, ddof=1)", float(np.var(DATA_A, ddof=1)))
show("np.std(A, ddof=1)", float(np.std(DATA_A, ddof=1)))
show("np.median(A)", float(np.median(DATA_A)))
show("np.quantile(A, 0.1)", float(np.quantile(DATA_A, 0.1)))
show("np.quantile(A, 0.9)", float(np.quantile(DATA_A, 0.9)))

# t interval
for level in (0.95, 0.9):
    lo, hi = st.t.interval(level, len(DATA_A) - 1, loc=np.mean(DATA_A), scale=st.sem(DATA_A))
    show(f"st.t.interval({level}, 7, mean(A), sem(A))", (float(lo), float(hi)))
show("st.t.ppf(0.975, 3)", float(st.t.ppf(0.975, 3)))

# Wilson
for k, n, level in ((7, 20, 0.95), (0, 10, 0.95), (19, 25, 0.9), (5, 10, 0.95)):
    lo, hi = proportion_confint(k, n, alpha=1 - level, method="wilson")
    show(f"proportion_confint({k}, {n}, alpha={1 - level:.2f}, method='wilson')", (float(lo), float(hi)))
show("st.norm.ppf(0.975)", float(st.norm.ppf(0.975)))

# cluster-robust mean
g = np.array([c for c, _ in CLUSTER_OBS])
y = np.array([v for _, v in CLUSTER_OBS])
fit = sm.OLS(y, np.ones(len(y))).fit(cov_type="cluster", cov_kwds={"groups": g})
show("OLS(y, ones).fit(cov_type='cluster').params[0]", float(fit.params[0]))
show("OLS(y, ones).fit(cov_type='cluster').bse[0]", float(fit.bse[0]))
se = float(fit.bse[0])
for level in (0.95,):
    q = st.t.ppf(0.5 + level / 2, 3)
    show(f"mean -+ st.t.ppf({0.5 + level / 2}, 3) * bse", (float(fit.params[0] - q * se), float(fit.params[0] + q * se)))

# t tests
r = st.ttest_ind(DATA_A, DATA_B, equal_var=False)
show("st.ttest_ind(A, B, equal_var=False)", (float(r.statistic), float(r.pvalue), float(r.df)))
r = st.ttest_1samp(DATA_A, 5.5)
show("st.ttest_1samp(A, 5.5)", (float(r.statistic), float(r.pvalue)))
r = st.ttest_rel(TREATED, CONTROL)
show("st.ttest_rel(TREATED, CONTROL)", (float(r.statistic), float(r.pvalue)))

# exact sign-flip permutation test
r = st.permutation_test((TREATED, CONTROL), lambda x, y, axis: np.mean(x - y, axis=axis),
                        permutation_type="samples", n_resamples=np.inf, alternative="two-sided",
                        vectorized=True)
show("st.permutation_test((TREATED, CONTROL), mean(x-y), samples, inf, two-sided)",
     (float(r.statistic), float(r.pvalue)))
# the same on cluster mean differences of CLUSTER_OBS read as differences (4 clusters)
cm = np.array([np.mean(y[g == c]) for c in range(4)])
r = st.permutation_test((cm, np.zeros(4)), lambda x, y, axis: np.mean(x - y, axis=axis),
                        permutation_type="samples", n_resamples=np.inf, alternative="two-sided",
                        vectorized=True)
show("st.permutation_test((cluster means, zeros), ...)", (float(r.statistic), float(r.pvalue)))

# binomial test
for k, n, p in ((3, 10, 0.5), (7, 20, 0.3), (0, 5, 0.2), (12, 40, 0.5), (9, 10, 0.7), (19, 20, 0.5),
                (2, 30, 0.25), (6, 20, 0.3)):
    show(f"st.binomtest({k}, {n}, {p}).pvalue", float(st.binomtest(k, n, p).pvalue))

# chi-square
r = st.chisquare([18, 22, 30, 30])
show("st.chisquare([18, 22, 30, 30])", (float(r.statistic), float(r.pvalue)))
r = st.chisquare([10, 20, 30], f_exp=[15, 25, 20])
show("st.chisquare([10, 20, 30], f_exp=[15, 25, 20])", (float(r.statistic), float(r.pvalue)))

# effect sizes (numpy formulas)
na, nb = len(DATA_A), len(DATA_B)
sp = np.sqrt(((na - 1) * np.var(DATA_A, ddof=1) + (nb - 1) * np.var(DATA_B, ddof=1)) / (na + nb - 2))
d = (np.mean(DATA_A) - np.mean(DATA_B)) / sp
show("cohen_d(A, B)", float(d))
show("hedges_g(A, B)", float(d * (1 - 3 / (4 * (na + nb) - 9))))
diff = TREATED - CONTROL
show("d_z(TREATED - CONTROL)", float(np.mean(diff) / np.std(diff, ddof=1)))

# distances
N = len(P)
pos = np.arange(1, N + 1)
show("st.wasserstein_distance(1..5, 1..5, P, Q) / 4", float(st.wasserstein_distance(pos, pos, P, Q) / (N - 1)))
pos2 = np.arange(1, 5)
show("st.wasserstein_distance(1..4, 1..4, P2, Q2) / 3", float(st.wasserstein_distance(pos2, pos2, P2, Q2) / 3))
show("0.5 * sum|P - Q|", float(0.5 * np.abs(P - Q).sum()))
show("jensenshannon(P, Q, base=2)", float(jensenshannon(P, Q, base=2)))
show("jensenshannon(P2, Q2, base=2)", float(jensenshannon(P2, Q2, base=2)))
r = st.ks_2samp(DATA_A, DATA_B)
show("st.ks_2samp(A, B).statistic", float(r.statistic))
r = st.ks_2samp(KS_A, KS_B)
show("st.ks_2samp(KS_A, KS_B).statistic", float(r.statistic))
for a, b, name in ((DATA_A, DATA_B, "A, B"), (KS_A, KS_B, "KS_A, KS_B")):
    dd = st.ks_2samp(a, b).statistic
    en = len(a) * len(b) / (len(a) + len(b))
    show(f"st.kstwobign.sf(sqrt(en) * D) for {name}", float(st.kstwobign.sf(np.sqrt(en) * dd)))
show("st.ks_2samp(A, B, method='asymp').pvalue (for comparison only)", float(st.ks_2samp(DATA_A, DATA_B, method="asymp").pvalue))

# twins
r = st.pearsonr(DATA_A[:7], DATA_B)
show("st.pearsonr(A[:7], B).statistic", float(r.statistic))

# paired comparison on CLUSTER_OBS read as differences (control 0)
show("d_z(CLUSTER_OBS values)", float(np.mean(y) / np.std(y, ddof=1)))

# multinomial logistic regression (class 0 is the reference; constant added first)
MN_X = np.array([[-0.01, 1.05], [0.74, 0.72], [1.62, -1.21], [-0.63, -1.32], [-0.11, 1.0], [-0.02, 0.5],
                 [-1.91, 0.15], [-0.91, 1.78], [0.89, 0.95], [-0.06, 0.61], [0.66, -0.34], [-0.5, -0.11],
                 [-0.61, -0.59], [-0.28, -0.73], [0.77, -1.6], [0.82, -0.63], [-0.55, -1.35], [-0.14, -0.25],
                 [0.19, -0.53], [0.09, 1.82], [0.41, -0.57], [0.95, -0.13], [0.59, 0.61], [-0.39, -1.93],
                 [-0.35, 0.55], [-0.38, 0.44], [0.98, -0.54], [1.23, 1.62], [1.08, 1.17], [1.1, 2.25]])
MN_Y = np.array([2, 1, 1, 1, 2, 1, 2, 2, 2, 0, 1, 2, 2, 2, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 2, 1, 2, 1, 2])
exog = sm.add_constant(MN_X)
mn = sm.MNLogit(MN_Y, exog).fit(disp=0, method="newton", tol=1e-12, maxiter=200)
show("sm.MNLogit(MN_Y, add_constant(MN_X)).fit().params.T (rows: class 1, class 2)", mn.params.T.tolist())
show("sm.MNLogit(...).fit().predict([[1, 0.3, -0.2]])", mn.predict(np.array([[1.0, 0.3, -0.2]]))[0].tolist())
show("sm.MNLogit(...).fit().llf", float(mn.llf))

# the same with an L2 penalty 0.5 * LAMBDA * sum(slopes^2), minimised with scipy.optimize
from scipy.optimize import minimize
LAMBDA = 2.0
Yd = np.eye(3)[MN_Y]


def penalised_nll(theta):
    b = theta.reshape(2, 3)
    eta = np.column_stack([np.zeros(len(MN_Y)), exog @ b.T])
    ll = np.sum(Yd * eta) - np.sum(np.log(np.exp(eta).sum(axis=1)))
    return -ll + 0.5 * LAMBDA * np.sum(b[:, 1:] ** 2)


opt = minimize(penalised_nll, np.zeros(6), method="BFGS", options={"gtol": 1e-11})
show("minimize(penalised_nll, lambda=2).x (rows: class 1, class 2)", opt.x.reshape(2, 3).tolist())
