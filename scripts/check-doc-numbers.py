#!/usr/bin/env python3
"""Rerun the commands behind the numbers in the docs and report rows that no longer match.

Why: docs/model-zoo.md and docs/studies.md quote measured numbers; any change to the
framework (initialisation, noise, shuffling, an op) can silently make them stale. This
script turns "the docs say X" into a check that can fail.

What it does:
  * docs/model-zoo.md: parses `COMMON="..."` and the results table from the doc itself, runs
    `train --progress none $COMMON <row command> --out WORK/<row>` for each row (the stacked
    rows take COMMON without `--code`, the PCA row no COMMON, as the doc says), reads the
    run's metrics.json and compares test MSE, train MSE and "vs PCA" (computed from the
    regenerated numbers); with a "probe accuracy" column every row also runs `--probe` and its
    probe.json test accuracy is compared (the raw-pixels row has only that number). Times
    (s / epoch) are printed beside the doc's, never compared.
  * docs/studies.md: every table is either regenerated (when its command runs in under ~3
    minutes: the synthetic LAE table) or listed as "not regenerated" with the reason.
A value matches when the regenerated value, printed to the doc's precision, equals the doc's.
Exit status: 0 all match, 1 a mismatch or a failed run, 2 usage error. With --update the
numeric cells are rewritten in place (exit 1 then only for failed runs), and a full run (no
--rows) writes above the zoo table the date, the commit and the machine it ran on.

Usage: /usr/bin/python3 scripts/check-doc-numbers.py [--rows PATTERN] [--jobs N] [--update]
"""
import argparse, concurrent.futures, json, os, re, shlex, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM = re.compile(r'([+\-−]?)(\d+(?:\.\d+)?(?:e[+-]?\d+)?)')
SEP = re.compile(r'(?<!\\)\|')  # cell separator; studies.md writes `\|cos\|` inside cells

# Tables of docs/studies.md, recognised by a piece of their header line.
STUDY_TABLES = [
    ('max principal angle', 'LAE synthetic', None),
    ('penalty: max angle', None, 'takes about 12 minutes: `lae_pca`, Fashion-MNIST at k = 8, 32, 64'),
    ('full SVD (gesdd)', None, 'times (machine-dependent), from the same 12-minute `lae_pca` run'),
    ('code R²', None, 'takes about 12 minutes: `step_study --config all`, 5 x 557,600 epochs '
     '(the `study` row alone about 2.5 minutes)'),
    ('framework / GEMMs', None, 'Google Benchmark timings (benchmarks/bench_step_study), machine-dependent'),
    ('relative asymmetry', None, 'takes about 13 minutes: `bash scripts/field-study.sh` (nine zoo models trained, '
     'then their Jacobians)'),
]


def die(msg):
    print('check-doc-numbers: ' + msg, file=sys.stderr)
    sys.exit(2)


def cells(line):
    return SEP.split(line)  # parts[0] and parts[-1] are the text outside the outer pipes


def tables(lines):
    """Yield (header line index, header cells, [(line index, cells)]) for each markdown table."""
    i = 0
    while i < len(lines):
        if lines[i].startswith('|') and i + 1 < len(lines) and lines[i + 1].startswith('|---'):
            head, rows, j = i, [], i + 2
            while j < len(lines) and lines[j].startswith('|'):
                rows.append((j, cells(lines[j])))
                j += 1
            yield head, [c.strip() for c in cells(lines[head])], rows
            i = j
        else:
            i += 1


def num(cell):
    m = NUM.search(cell)
    return None if m is None else (m, float(m.group(1).replace('−', '-') + m.group(2)))


def in_doc_style(value, m):
    """value printed as the doc's number m is printed: same decimals (or mantissa digits), sign style."""
    mant, _, exp = m.group(2).partition('e')
    dec = len(mant.partition('.')[2])
    text = f'{abs(value):.{dec}e}' if exp else f'{abs(value):.{dec}f}'
    if exp:  # 3.7e-08 -> 3.7e-8, as the docs write it
        text = re.sub(r'e([+-]?)0*(\d)', lambda e: 'e' + e.group(1).replace('+', '') + e.group(2), text)
    if value < 0 and float(text) != 0:
        return ('−' if m.group(1) == '−' else '-') + text
    return ('+' if m.group(1) else '') + text


class Cell:
    """One compared number: where it is in which doc, what the doc says, what the rerun gives."""
    def __init__(self, doc, line, col, row, what, new, timing=False):
        self.doc, self.line, self.col, self.row, self.what, self.timing = doc, line, col, row, what, timing
        self.text, self.new = cells(doc.lines[line])[col], new
        self.m, self.old = num(self.text)
        self.new_text = in_doc_style(new, self.m)
        self.match = float(self.new_text.replace('−', '-')) == self.old

    def diff(self):
        if '%' in self.text:
            return f'{self.new - self.old:+.2f} pt'
        return f'{(self.new - self.old) / abs(self.old) * 100:+.2f} %' if self.old else 'n/a'

    def status(self):
        return 'time, not compared' if self.timing else ('MATCH' if self.match else 'MISMATCH')

    def apply(self):
        parts, t = cells(self.doc.lines[self.line]), self.text
        parts[self.col] = t[:self.m.start()] + self.new_text + t[self.m.end():]
        self.doc.lines[self.line] = '|'.join(parts)


class Doc:
    def __init__(self, path):
        self.path = path
        try:
            with open(path, encoding='utf-8') as f:
                self.lines = f.read().split('\n')
        except OSError as e:
            die(f'{path}: {e.strerror}')

    def write(self):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(self.path)), suffix='.tmp')
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write('\n'.join(self.lines))
        shutil.copymode(self.path, tmp)
        os.replace(tmp, self.path)


STAMP = 'Regenerated on '  # the line above the zoo table that says when, where and from what


def machine():
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
    flags = next((l for l in open('/proc/cpuinfo') if l.startswith('flags')), '')
    simd = 'AVX-512' if ' avx512f' in flags else 'AVX2 (no AVX-512)' if ' avx2' in flags else 'no AVX2'
    return f'{cpu}, {os.cpu_count()} cores, {simd}'


def commit():
    def git(*args):
        return subprocess.run(['git', '-C', ROOT] + list(args), capture_output=True, text=True).stdout.strip()
    c = git('rev-parse', '--short', 'HEAD') or 'unknown'
    return c + (' with uncommitted changes' if git('status', '--porcelain', '--untracked-files=no') else '')


def stamp(doc, a):
    """Writes (or replaces) the stamp line above the zoo table after a full --update."""
    head = next(h for h, hcells, _ in tables(doc.lines) if len(hcells) > 2 and hcells[1] == 'model')
    times = 'the s / epoch column too' if a.update_times else 's / epoch from an earlier run, not rewritten'
    line = (f'{STAMP}{time.strftime("%Y-%m-%d", time.gmtime())} at commit {commit()} on {machine()}, by '
            f'`scripts/check-doc-numbers.py --update{" --update-times" if a.update_times else ""}` '
            f'(every row; {times}).')
    if head >= 2 and doc.lines[head - 2].startswith(STAMP):
        doc.lines[head - 2] = line
    else:
        doc.lines[head:head] = [line, '']


def slug(name):
    return re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')


def run(cmd, outdir, reuse):
    """Run cmd (output to outdir/stdout.txt); reuse a previous successful run of the same command."""
    os.makedirs(outdir, exist_ok=True)
    line, rcfile, log = shlex.join(cmd), os.path.join(outdir, 'rc'), os.path.join(outdir, 'stdout.txt')
    if reuse and os.path.exists(rcfile):
        with open(os.path.join(outdir, 'cmd.txt')) as f, open(rcfile) as r:
            if f.read() == line and r.read().strip() == '0':
                return 0, open(log).read(), 0.0
    start = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for name, text in (('cmd.txt', line), ('stdout.txt', p.stdout), ('rc', str(p.returncode))):
        with open(os.path.join(outdir, name), 'w') as f:
            f.write(text)
    return p.returncode, p.stdout, time.time() - start


def zoo_jobs(doc, pattern, train, work):
    """The selected rows of the zoo table as jobs (the PCA row too: "vs PCA" needs it), and its columns."""
    m = re.search(r'COMMON="([^"]*)"', '\n'.join(doc.lines))
    if not m:
        die(f'{doc.path}: no COMMON="..." line')
    common = shlex.split(m.group(1))
    for head, hcells, rows in tables(doc.lines):
        if len(hcells) > 2 and hcells[1] == 'model' and hcells[2].startswith('command'):
            break
    else:
        die(f'{doc.path}: no table with columns "| model | command ..."')
    col = {k: next((i for i, h in enumerate(hcells) if h.startswith(k)), None)
           for k in ('test MSE', 'train MSE', 'vs PCA', 's / epoch', 'probe')}
    if None in [v for k, v in col.items() if k != 'probe']:
        die(f'{doc.path}: the zoo table lacks one of the columns {list(col)[:-1]}')
    # A "probe accuracy" column: every row also runs the linear probe (train --probe, probe.json).
    probe = ['--probe'] if col['probe'] is not None else []
    jobs = []
    for line, c in rows:
        name = c[1].strip().strip('*').strip()
        cm = re.search(r'`([^`]*)`', c[2])
        if not cm:
            die(f'{doc.path}:{line + 1}: no `command` in the row of {name}')
        args = shlex.split(cm.group(1))
        if 'no `$COMMON`' in c[2]:
            pre = []
        elif '--layers' in args:  # the doc: stacked rows take $COMMON without its --code
            pre = [a for i, a in enumerate(common) if a != '--code' and (i == 0 or common[i - 1] != '--code')]
        else:
            pre = common
        out = os.path.join(work, 'zoo', slug(name))
        reference = num(c[col['vs PCA']]) is None and name.lower().startswith('pca')  # PCA: "—"
        jobs.append(dict(name=name, line=line, reference=reference, out=out,
                         selected=bool(re.search(pattern, name, re.I)),
                         cmd=[train, '--progress', 'none'] + pre + args + probe + ['--out', out]))
    if not any(j['selected'] for j in jobs if not j['reference']):
        return [j for j in jobs if j['selected']], col
    return [j for j in jobs if j['selected'] or j['reference']], col


def zoo_cells(doc, jobs, col, results):
    ref = next((j for j in jobs if j['reference']), None)
    ref_mse = results.get(ref['name'], {}).get('test_mse') if ref else None
    out = []
    for j in jobs:
        if (r := results.get(j['name'])) is None:
            continue
        row = cells(doc.lines[j['line']])

        def add(c, what, v, timing=False):  # a cell without a number ("—") is not compared
            if v is not None and col[c] is not None and num(row[col[c]]):
                out.append(Cell(doc, j['line'], col[c], j['name'], what, v, timing))
        add('test MSE', 'test MSE', r.get('test_mse'))
        add('train MSE', 'train MSE', r.get('train_mse'))
        if not j['reference'] and ref_mse and 'test_mse' in r:
            add('vs PCA', 'vs PCA', (r['test_mse'] / ref_mse - 1) * 100)
        add('probe', 'probe accuracy', r.get('probe_test_accuracy'))
        add('s / epoch', 's / epoch', r.get('mean_epoch_seconds', r.get('fit_seconds')), timing=True)
    return out


def lae_synthetic(text):
    """Values of the synthetic LAE table's rows from `lae_pca --data synthetic` output."""
    text = text[text.index('=== synthetic'):]
    steps = re.findall(r'^\s*\d+\s+[\d.]+\s+(\S+)°\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s*$', text, re.M)
    s = re.search(r'synthetic summary.*\n.*\n\s*\d+\s+(\S+)°\s+(\S+)\s+(\S+)\s+(\S+)°\s+(\S+)\s+(\S+)', text)
    if not steps or not s:
        raise ValueError('unexpected lae_pca output')
    f = [float(x) for x in s.groups()]
    return {'sum L2 penalty': [f[0], f[1], float(steps[-1][2]), f[2]], 'no penalty': [f[3], f[4], f[5]]}


def study_jobs(doc, pattern, tools, work):
    jobs, skipped = [], []
    for head, hcells, rows in tables(doc.lines):
        where = f'{os.path.basename(doc.path)}:{head + 1}'
        known = next((t for t in STUDY_TABLES if t[0] in doc.lines[head]), None)
        if known is None or known[1] is None:
            skipped.append((where, doc.lines[head][:40], known[2] if known else 'no command known to this script'))
            continue
        names = {r[1].strip(): line for line, r in rows}
        titles = [h.replace('\\|', '|') for h in hcells]
        if not any(re.search(pattern, known[1] + ': ' + n, re.I) for n in names):
            continue
        out = os.path.join(work, 'studies', slug(known[1]))
        jobs.append(dict(name=known[1], rows=names, titles=titles, out=out, parse=lae_synthetic,
                         cmd=[os.path.join(tools, 'lae_pca'), '--data', 'synthetic', '--out', out]))
    return jobs, skipped


def study_cells(doc, job, text):
    out = []
    for name, values in job['parse'](text).items():
        line = job['rows'][name]
        numbered = [i for i, c in enumerate(cells(doc.lines[line])[2:-1], 2) if num(c)]
        for i, v in zip(numbered, values):
            out.append(Cell(doc, line, i, job['name'] + ': ' + name, job['titles'][i], v))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rows', default='', help='only rows whose name matches this regex (case-insensitive)')
    ap.add_argument('--train', default=os.path.join(ROOT, 'build/tools/train/train'), help='the train binary')
    ap.add_argument('--studies-dir', default=os.path.join(ROOT, 'build/tools/studies'), help='lae_pca, step_study')
    ap.add_argument('--doc', default=os.path.join(ROOT, 'docs/model-zoo.md'), help='the model-zoo doc')
    ap.add_argument('--studies-doc', default=os.path.join(ROOT, 'docs/studies.md'), help='the studies doc')
    ap.add_argument('--jobs', type=int, default=1, help='runs in parallel (times are then inflated)')
    ap.add_argument('--work', help='keep the runs in this directory (default: a temporary one, removed)')
    ap.add_argument('--reuse', action='store_true', help='with --work: reuse runs of the same command')
    ap.add_argument('--update', action='store_true', help='rewrite the numeric cells with the new values')
    ap.add_argument('--update-times', action='store_true', help='with --update: the s / epoch cells too')
    a = ap.parse_args()
    try:
        re.compile(a.rows)
    except re.error as e:
        die(f'--rows: {e}')
    if a.jobs < 1 or (a.reuse and not a.work):
        die('--jobs must be >= 1; --reuse needs --work')
    for exe in (a.train, os.path.join(a.studies_dir, 'lae_pca')):
        if not os.access(exe, os.X_OK):
            die(f'{exe}: not an executable (build first, or pass --train / --studies-dir)')
    work = a.work or tempfile.mkdtemp(prefix='check-doc-numbers-')
    try:
        return check(a, work)
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


def read_results(out, probed):
    """metrics.json (absent for the raw-pixels probe row) and, if probed, probe.json's test accuracy."""
    results, metrics = {}, os.path.join(out, 'metrics.json')
    if os.path.exists(metrics) or not probed:
        with open(metrics) as f:
            results = json.load(f)
    if probed:
        with open(os.path.join(out, 'probe.json')) as f:
            results['probe_test_accuracy'] = json.load(f)['test_accuracy']
    return results


def check(a, work):
    zoo, sdoc = Doc(a.doc), Doc(a.studies_doc)
    zjobs, col = zoo_jobs(zoo, a.rows, a.train, work)
    sjobs, skipped = study_jobs(sdoc, a.rows, a.studies_dir, work)
    if not sjobs and not zjobs:
        die(f'--rows {a.rows!r}: matches no row')

    results, texts, failed = {}, {}, []
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futs = {pool.submit(run, j['cmd'], j['out'], a.reuse): j for j in zjobs + sjobs}
        for fut in concurrent.futures.as_completed(futs):
            j = futs[fut]
            rc, text, secs = fut.result()
            print(f'  {j["name"]}: exit {rc}, {secs:.0f} s', file=sys.stderr, flush=True)
            if rc != 0:
                failed.append((j, rc, text))
            elif 'parse' in j:
                texts[j['name']] = text
            else:
                try:
                    results[j['name']] = read_results(j['out'], '--probe' in j['cmd'])
                except (OSError, ValueError, KeyError) as e:
                    failed.append((j, rc, f'{e}\n{text}'))
    found = zoo_cells(zoo, zjobs, col, results)
    for j in sjobs:
        if j['name'] in texts:
            try:
                found += study_cells(sdoc, j, texts[j['name']])
            except (ValueError, KeyError) as e:
                failed.append((j, 0, f'cannot read the output ({e!r}):\n' + texts[j['name']]))

    w, v = max([len(c.row) for c in found] + [3]), max([len(c.what) for c in found] + [5])
    print(f'\n{"row":<{w}}  {"value":<{v}} {"doc":>10} {"now":>10} {"rel. diff":>10}  status')
    for c in found:
        print(f'{c.row:<{w}}  {c.what:<{v}} {c.m.group(0):>10} {c.new_text:>10} {c.diff():>10}  {c.status()}')
    for j, rc, text in failed:
        tail = '\n    '.join(text.rstrip().split('\n')[-10:])
        print(f'\n{j["name"]}: FAILED (exit {rc}): {shlex.join(j["cmd"])}\n    {tail}')
    print('\n' * bool(skipped), end='')
    for where, head, why in skipped:
        print(f'{where} ({head.strip()} ...): not regenerated, {why}')
    bad = [c for c in found if not c.match and not c.timing]
    good = sum(c.match and not c.timing for c in found)
    print(f'\n{good} match, {len(bad)} mismatch, {len(failed)} failed runs, {len(skipped)} tables not regenerated')
    if a.update:
        changed = [c for c in found if (not c.timing or a.update_times) and c.new_text != c.m.group(0)]
        for c in changed:
            c.apply()
        full = zjobs and not a.rows and not failed
        if full:  # a partial run leaves other rows as they were: no stamp claims them
            stamp(zoo, a)
        for d in (zoo, sdoc):
            if any(c.doc is d for c in changed) or (d is zoo and full):
                d.write()
                print(f'updated {sum(c.doc is d for c in changed)} cells in {d.path}')
    return 1 if failed or (bad and not a.update) else 0


if __name__ == '__main__':
    sys.exit(main())
