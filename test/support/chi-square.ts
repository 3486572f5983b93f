// Pearson's chi-square goodness-of-fit test, for checking that connections spread over a
// Service's endpoints the way the traced probabilities say. Exact survival function for
// integer degrees of freedom (closed forms in e^{-x/2} and erfc), no dependency.

/** erfc with relative error below 1.2e-7 (Numerical Recipes' erfcc, Chebyshev fit). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** P(X ≥ x) for X ~ chi-square with k (integer ≥ 1) degrees of freedom. */
export function chiSquareSurvival(x: number, k: number): number {
  if (x <= 0) return 1;
  const h = x / 2;
  if (k % 2 === 0) {
    let term = 1, sum = 1;
    for (let i = 1; i < k / 2; i++) { term *= h / i; sum += term; }
    return Math.exp(-h) * sum;
  }
  // Odd k: erfc(√(x/2)) + e^{-x/2} Σ_{i=1}^{(k-1)/2} (x/2)^{i-1/2} / Γ(i+1/2).
  let sum = 0;
  let term = Math.sqrt(h) / Math.sqrt(Math.PI) * 2; // (x/2)^{1/2} / Γ(3/2)
  for (let i = 1; i <= (k - 1) / 2; i++) {
    sum += term;
    term *= h / (i + 0.5);
  }
  return Math.min(1, erfc(Math.sqrt(h)) + Math.exp(-h) * sum);
}

export interface GoodnessOfFit {
  readonly statistic: number;
  readonly degreesOfFreedom: number;
  /** P(a statistic at least this large | the counts follow the probabilities). */
  readonly pValue: number;
}

/** Counts per category against expected probabilities (same keys; probabilities sum to 1). */
export function chiSquareFit(counts: Readonly<Record<string, number>>, probabilities: Readonly<Record<string, number>>): GoodnessOfFit {
  const keys = Object.keys(probabilities);
  const n = keys.reduce((a, k) => a + (counts[k] ?? 0), 0);
  let statistic = 0;
  for (const k of keys) {
    const e = n * probabilities[k]!;
    const d = (counts[k] ?? 0) - e;
    statistic += (d * d) / e;
  }
  const degreesOfFreedom = Math.max(1, keys.length - 1);
  return { statistic, degreesOfFreedom, pValue: keys.length < 2 ? 1 : chiSquareSurvival(statistic, degreesOfFreedom) };
}
