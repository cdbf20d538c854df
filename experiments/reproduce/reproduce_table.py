#!/usr/bin/python3
"""hkref -- tabulate experiments/reproduce/reproduce.sh's runs (issue 8).

usage: experiments/reproduce/reproduce_table.py OUT SEEDS LOW HIGH

Reads OUT/methods.txt (name|label|hkref train options) and
OUT/runs/NAME/sSEED/result.txt; writes OUT/runs.tsv, OUT/table.tsv,
OUT/table.md, OUT/orderings.txt (the paper's orderings, HK section 4.2, as
measured here), OUT/dylora_ranks.tsv and, if gnuplot is installed,
OUT/accuracy.png and OUT/dylora_ranks.png.  Standard library only.

Statistics: mean and sample standard deviation (n - 1) over seeds; an
ordering "a > b" is reported as holding when mean(a) > mean(b), and as
resolved only when the difference exceeds twice its standard error
sqrt(sd_a^2/n + sd_b^2/n) -- with 300 test sentences one sentence is 0.33
points, so most differences at this scale are not resolved.
"""
import math
import os
import shutil
import subprocess
import sys


def die(msg):
    sys.stderr.write("reproduce_table: %s\n" % msg)
    sys.exit(1)


def read_result(path):
    vals, ranks = {}, {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 2 and p[0] in ("dev_acc", "test_acc", "best_epoch", "steps"):
                vals[p[0]] = float(p[1])
            elif len(p) == 6 and p[0] == "rank":
                ranks[int(p[1])] = (float(p[3]), float(p[5]))
    if "dev_acc" not in vals or "test_acc" not in vals:
        die("%s: no dev_acc / test_acc line" % path)
    return vals, ranks


def stats(xs):
    n = len(xs)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else float("nan")
    return m, sd, n


def pm(m, sd):
    return "%.1f ± %.1f" % (100 * m, 100 * sd) if not math.isnan(sd) else "%.1f" % (100 * m)


def main():
    if len(sys.argv) != 5:
        die("usage: reproduce_table.py OUT SEEDS LOW HIGH")
    out, seeds, low, high = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    methods = []
    with open(os.path.join(out, "methods.txt")) as f:
        for line in f:
            if line.strip():
                name, label, opts = line.rstrip("\n").split("|", 2)
                methods.append((name, label, opts))
    res, rank_res, runs = {}, {}, []
    for name, label, opts in methods:
        dev, test, secs = [], [], []
        for s in range(1, seeds + 1):
            d = os.path.join(out, "runs", name, "s%d" % s)
            vals, ranks = read_result(os.path.join(d, "result.txt"))
            sec = 0.0
            try:
                with open(os.path.join(d, "seconds")) as f:
                    sec = float(f.read().strip() or 0)
            except OSError:
                pass
            dev.append(vals["dev_acc"]), test.append(vals["test_acc"]), secs.append(sec)
            runs.append((name, s, vals["dev_acc"], vals["test_acc"], int(vals.get("best_epoch", 0)), sec))
            for b, (da, ta) in ranks.items():
                rank_res.setdefault(b, ([], []))
                rank_res[b][0].append(da), rank_res[b][1].append(ta)
        res[name] = (stats(dev), stats(test), sum(secs) / len(secs), label, opts)

    with open(os.path.join(out, "runs.tsv"), "w") as f:
        f.write("# method\tseed\tdev_acc\ttest_acc\tbest_epoch\tseconds\n")
        for r in runs:
            f.write("%s\t%d\t%.4f\t%.4f\t%d\t%.0f\n" % r)
    with open(os.path.join(out, "table.tsv"), "w") as f:
        f.write("# method\tn\tdev_mean\tdev_sd\ttest_mean\ttest_sd\tseconds_per_run\n")
        for name, _, _ in methods:
            (dm, ds, n), (tm, ts, _), sec, _, _ = res[name]
            f.write("%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\n" % (name, n, dm, ds, tm, ts, sec))
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("| method | what | dev acc % (mean ± sd) | test acc % (mean ± sd) | s / run |\n|---|---|---|---|---|\n")
        for name, _, _ in methods:
            (dm, ds, n), (tm, ts, _), sec, label, _ = res[name]
            f.write("| `%s` | %s | %s | %s | %.0f |\n" % (name, label, pm(dm, ds), pm(tm, ts), sec))

    # the paper's orderings (HK section 4.2), each "a > b" on dev and on test
    lines = []

    def claim(text, a, b):
        if a not in res or b not in res:
            return
        out_l = []
        for k, split in ((1, "test"), (0, "dev")):
            (ma, sa, na), (mb, sb, nb) = res[a][k], res[b][k]
            se = math.sqrt((sa * sa) / na + (sb * sb) / nb) if na > 1 and nb > 1 else float("nan")
            diff = ma - mb
            verdict = "holds" if diff > 0 else ("tie" if diff == 0 else "reversed")
            resolved = not math.isnan(se) and abs(diff) > 2 * se
            out_l.append("%s %s %+.1f pts (2 SE %.1f, %s)" % (split, verdict, 100 * diff, 200 * se,
                                                              "resolved" if resolved else "within noise"))
        lines.append("%-58s %s\n%-58s %s" % (text, out_l[0], "", out_l[1]))

    H, L = "@" + high, "@" + low
    claim("DropKey > HiddenCut at the high rate (column, element)", "dropkey-column" + H, "hiddencut-element" + H)
    claim("HiddenCut > DropAttention at the high rate", "hiddencut-element" + H, "dropattention" + H)
    claim("DropKey > DropAttention at the high rate", "dropkey-column" + H, "dropattention" + H)
    for r in (L, H):
        claim("DropKey: column > element" + r, "dropkey-column" + r, "dropkey-element" + r)
        claim("HiddenCut: element > column" + r, "hiddencut-element" + r, "hiddencut-column" + r)
    for r in (L, H):
        claim("HiddenKey- > DropKey column" + r, "hiddenkey-" + r, "dropkey-column" + r)
        claim("HiddenKey- > HiddenCut element" + r, "hiddenkey-" + r, "hiddencut-element" + r)
        claim("KL >= JS: HiddenKey > HiddenKey- + JS" + r, "hiddenkey" + r, "hiddenkey-js" + r)
        claim("KL helps: HiddenKey > HiddenKey-" + r, "hiddenkey" + r, "hiddenkey-" + r)
    # HiddenKey best: against every method at the same rate and the rate-free ones
    for r in (L, H):
        for name, _, _ in methods:
            if name != "hiddenkey" + r and (name.endswith(r) or "@" not in name or name.endswith("@" + low)
                                              and r == L):
                claim("HiddenKey%s > %s" % (r, name), "hiddenkey" + r, name)
    for name, _, _ in methods:
        if name != "lora":
            claim("%s > LoRA baseline" % name, name, "lora")
    with open(os.path.join(out, "orderings.txt"), "w") as f:
        f.write("# the paper's orderings (HK 4.2) at this scale: mean over %d seeds, a - b in accuracy points;\n"
                "# resolved = |a - b| > 2 standard errors of the difference\n" % seeds)
        f.write("\n".join(lines) + "\n")

    if rank_res:
        with open(os.path.join(out, "dylora_ranks.tsv"), "w") as f:
            f.write("# rank\tdev_mean\tdev_sd\ttest_mean\ttest_sd\n")
            for b in sorted(rank_res):
                (dm, ds, _), (tm, ts, _) = stats(rank_res[b][0]), stats(rank_res[b][1])
                f.write("%d\t%.4f\t%.4f\t%.4f\t%.4f\n" % (b, dm, ds, tm, ts))

    if shutil.which("gnuplot"):
        script = """set terminal pngcairo size 1100,560 noenhanced
set output '%(out)s/accuracy.png'
set title 'LoRA fine-tune, mean +- sd over %(seeds)d seeds (hkref reproduce)'
set ylabel 'accuracy %%'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set xtics rotate by -40 left
set key top left
set grid ytics
set bmargin 9
set datafile separator '\\t'
plot '%(out)s/table.tsv' using ($3*100):($4*100):xtic(1) title 'dev', '' using ($5*100):($6*100) title 'test'
""" % {"out": out, "seeds": seeds}
        if rank_res:
            script += """set terminal pngcairo size 700,450 noenhanced
set output '%(out)s/dylora_ranks.png'
set title 'DyLoRA: one adapter evaluated at every rank b (mean +- sd, %(seeds)d seeds)'
set style data linespoints
unset style histogram
set xtics norotate 1
set offsets 0.5, 0.5, 0, 0
set bmargin
set xlabel 'rank b'
plot '%(out)s/dylora_ranks.tsv' using 1:($2*100):($3*100) with yerrorlines title 'dev', '' using 1:($4*100):($5*100) with yerrorlines title 'test'
""" % {"out": out, "seeds": seeds}
        p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if p.returncode != 0:
            sys.stderr.write("reproduce_table: gnuplot failed (plots skipped): %s\n" % p.stderr.strip())
    else:
        sys.stderr.write("reproduce_table: gnuplot not installed: no PNG plots (tools/scripts/deps.sh extra)\n")
    with open(os.path.join(out, "table.md")) as f:
        sys.stdout.write(f.read())
    with open(os.path.join(out, "orderings.txt")) as f:
        sys.stdout.write(f.read())
    print("reproduce: wrote %s/{table.md,table.tsv,runs.tsv,orderings.txt%s}" %
          (out, ",dylora_ranks.tsv" if rank_res else ""))


if __name__ == "__main__":
    main()
