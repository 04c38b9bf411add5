"""Cost of a BD-rate confidence interval (prints figures).

The shipped Kodak VTM-12.1 anchor (24 images x 6 QPs) against a synthetic codec made from it (bytes and
SSE perturbed per record): a 2000-resample paired bootstrap, percentile and BCa, for the 'mean'
aggregation (array path) and 'pooled' (rebuilt records through Curve.rd), with the share of the time
spent in bd.bd_rate itself (two scipy PCHIP constructions per call). Times are CPU time.

python benchmarks/bd_interval_cost.py [--resamples 2000]
"""

import argparse
import random
import time

import numpy as np

from lic_bench import bdstats
from lic_bench.bd import bd_rate
from lic_bench.references import shipped_anchors


def timed(fn):
    """CPU seconds of fn() (wall time on a shared machine mostly measures the neighbours)."""
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resamples", type=int, default=2000)
    a = ap.parse_args()
    anchor = shipped_anchors()[("vtm-12.1", "kodak")].records
    rng = random.Random(0)
    test = [dict(r, bytes=int(r["bytes"] * rng.uniform(0.8, 1.25)), sse_rgb=r["sse_rgb"] * rng.uniform(0.85, 1.2))
            for r in anchor]
    draws = bdstats.resample_indices(24, 200, seed=0)
    print(f"24 images x 6 points, {a.resamples} resamples")
    for aggregation in ("mean", "pooled"):
        stat = bdstats.bd_statistic(anchor, test, aggregation=aggregation)
        stat(draws[0])  # imports and first-call costs out of the timing
        per_call, _ = timed(lambda: [stat(i) for i in draws])
        rd_only, _ = timed(lambda: [(stat._anchor.rd(i), stat._test.rd(i)) for i in draws])
        ar, aq = stat._anchor.rd(draws[0])
        tr, tq = stat._test.rd(draws[0])
        bd_only, _ = timed(lambda: [bd_rate(ar, aq, tr, tq) for _ in draws])
        print(f"  {aggregation:6s}: {per_call / len(draws) * 1e3:.2f} ms per resample "
              f"(curves {rd_only / len(draws) * 1e3:.2f} ms, bd_rate {bd_only / len(draws) * 1e3:.2f} ms)")
        for method in ("percentile", "bca"):
            secs, iv = timed(lambda: bdstats.paired_bootstrap(24, stat, resamples=a.resamples, method=method))
            print(f"    {method:10s} {secs:6.2f} CPU s  [{iv.low:+.2f}, {iv.high:+.2f}] % around {iv.point:+.2f} %")
    # the array path against rebuilding records for 'mean' (what the pooled path does)
    stat = bdstats.bd_statistic(anchor, test)
    stat._anchor.arrays = stat._test.arrays = False
    records_path, _ = timed(lambda: [(stat._anchor.rd(i), stat._test.rd(i)) for i in draws])
    stat = bdstats.bd_statistic(anchor, test)
    arrays_path, _ = timed(lambda: [(stat._anchor.rd(i), stat._test.rd(i)) for i in draws])
    same = all(np.array_equal(np.asarray(x), np.asarray(y)) for i in draws[:20]
               for x, y in zip(stat._anchor.rd(i), bdstats.bd_statistic(anchor, test)._anchor._rd_records(i)))
    print(f"  mean curves: arrays {arrays_path / len(draws) * 1e3:.3f} ms vs records {records_path / len(draws) * 1e3:.3f} ms "
          f"per resample ({records_path / arrays_path:.0f}x); identical: {same}")


if __name__ == "__main__":
    main()
