#!/usr/bin/python3
"""hkref doc test: every shell command shown in the documentation is run.

Scope: README.md, CONTRIBUTING.md and docs/**/*.md (or the files given on the
command line).  Every fenced block needs an info string; blocks tagged `sh`
hold commands, one per line (`\\` continues a line, `#` starts a comment).
Other tags (`text` for output samples and trees, `c`, `json`, ...) are not run.
`bash`, `shell`, `console` and friends are refused: commands go in `sh`.

Per command, after comments are stripped and continuation lines joined:
  make                 (no target, or only `build`/`all`; VAR=value allowed)
                       runs for real: it only builds.
  make TARGET...       runs `make -n TARGET...`: the target exists and its
                       recipe expands (a dry run; nothing is built or installed).
  build/hkref ...      runs for real from the repository root (`build/hkref`
                       replaced by --hkref), must exit 0.
  anything else        runs for real with /bin/sh, must exit 0.
Annotations in a command's trailing comment:
  # exit: N                 the expected exit status instead of 0
  # timeout: S              seconds instead of --timeout (default 60)
  # doctest: skip — REASON  not run (too long, needs network or root);
                            counted and reported; a skip without a reason
                            is an error.
Dry runs of plain targets are first tried together, in one `make -n T1 T2 ...`
(one parse of the Makefile); if that fails, each line is dry-run on its own.
A make line that already passed in this run is not run again.
Output: one line per command (PASS / FAIL / SKIP, file:line, the command),
then `doctest: N passed, M failed, K skipped`.  Exit status 1 on any failure
or when no command was found, 2 on a usage error.  Standard library only.
"""

import argparse
import glob
import os
import re
import shlex
import signal
import subprocess
import sys
import time

FENCE = re.compile(r'^( *)(`{3,}|~{3,})(.*)$')
SHELL_TAGS = {'bash', 'shell', 'console', 'shell-session', 'zsh', 'terminal', 'sh-session'}
SKIP = re.compile(r'^doctest:\s*skip\b\s*(?:[-—–:]+\s*)?(.*)$')
EXIT = re.compile(r'^exit:\s*(\d+)\s*$')
TIMEOUT = re.compile(r'^timeout:\s*(\d+(?:\.\d+)?)\s*$')
ASSIGN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*=')


class Cmd:
    def __init__(self, path, line, text, annotations):
        self.path, self.line, self.text = path, line, text
        self.skip = None        # reason, when skipped
        self.exit = 0
        self.timeout = None
        self.error = None       # a malformed annotation
        for a in annotations:
            m = SKIP.match(a)
            if m:
                reason = m.group(1).strip()
                if not reason:
                    self.error = 'skip without a reason (write "# doctest: skip — why")'
                self.skip = reason
                continue
            m = EXIT.match(a)
            if m:
                self.exit = int(m.group(1))
                continue
            m = TIMEOUT.match(a)
            if m:
                self.timeout = float(m.group(1))
                continue
            if a.startswith('doctest'):
                self.error = 'unknown annotation "%s"' % a


def split_comment(line):
    """(code, comment) of one physical shell line: `#` starts a comment at
    the start of a word outside quotes."""
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == '\\' and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = None
        elif c == '\\':
            i += 2
            continue
        elif c in '\'"':
            quote = c
        elif c == '#' and (i == 0 or line[i - 1] in ' \t'):
            return line[:i].rstrip(), line[i + 1:].strip()
        i += 1
    return line.rstrip(), None


def annotations_of(comment):
    """The annotations of a comment: 'exit: 1; timeout: 90', and anything from
    'doctest:' to the end of the line ('# builds it  # doctest: skip — why; ...')."""
    if not comment:
        return []
    out = []
    m = re.search(r'(?:^|[#;\s])(doctest\b.*)$', comment)
    if m:
        out.append(m.group(1).strip())
        comment = comment[:m.start(1)]
    for part in re.split(r'[;#]', comment):
        part = part.strip()
        if EXIT.match(part) or TIMEOUT.match(part):
            out.append(part)
    return out


def parse(path, rel):
    """Commands of one Markdown file and its structural errors [(line, msg)]."""
    cmds, errors = [], []
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        start = i + 1
        tag = info.split()[0].lower() if info else ''
        body = []
        i += 1
        closed = False
        while i < len(lines):
            c = FENCE.match(lines[i])
            if c and c.group(2)[0] == fence[0] and len(c.group(2)) >= len(fence) and not c.group(3).strip():
                closed = True
                break
            body.append((i + 1, lines[i][indent:] if lines[i][:indent].strip() == '' else lines[i].lstrip()))
            i += 1
        i += 1
        if not closed:
            errors.append((start, 'fenced block never closed'))
        if not tag:
            errors.append((start, 'fenced block without an info string (use sh for commands, text for output)'))
            continue
        if tag in SHELL_TAGS:
            errors.append((start, 'fenced block tagged "%s": tag commands "sh" (output samples "text")' % tag))
            continue
        if tag != 'sh':
            continue
        n = 0
        pending, pending_line, notes = '', None, []
        for lineno, raw in body:
            code, comment = split_comment(raw)
            if pending_line is None and not code.strip():
                if comment is not None and annotations_of(comment):
                    errors.append((lineno, 'annotation on a line without a command'))
                continue
            if pending_line is None and code.lstrip().startswith('$ '):
                errors.append((lineno, 'shell prompt "$ " in an sh block: show the bare command (output goes in a text block)'))
                continue
            notes += annotations_of(comment)
            if pending_line is None:
                pending_line = lineno
            piece = code.strip() if pending else code.rstrip()
            if comment is None and piece.endswith('\\'):
                pending += piece[:-1].rstrip() + ' '
                continue
            cmds.append(Cmd(rel, pending_line, (pending + piece).strip(), notes))
            n += 1
            pending, pending_line, notes = '', None, []
        if pending_line is not None:
            errors.append((pending_line, 'continuation line at the end of the block'))
        if n == 0:
            errors.append((start, 'sh block without a command'))
    return cmds, errors


def plan(cmd, hkref):
    """(argv or shell string, use_shell) for a command."""
    text = cmd.text
    try:
        words = shlex.split(text)
    except ValueError as e:
        return None, 'cannot parse: %s' % e
    if words and words[0] == 'make' and not any(w in ('&&', '||', '|', ';') for w in words):
        targets = [w for w in words[1:] if not w.startswith('-') and not ASSIGN.match(w)]
        if not targets or all(t in ('build', 'all') for t in targets):
            return text, None
        return 'make -n ' + text[len('make'):].lstrip(), None
    if text.startswith('build/hkref') and hkref != 'build/hkref':
        text = re.sub(r'(^|(?<=[\s;&|(]))build/hkref(?=\s|$)', lambda m: shlex.quote(hkref), text)
    return text, None


def child_env():
    env = dict(os.environ)
    # Run as a user would from a shell, not as a sub-make of `make doctest`.
    for k in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'GNUMAKEFLAGS'):
        env.pop(k, None)
    env.setdefault('LC_ALL', 'C.UTF-8')
    return env


def tail(s, n=12):
    lines = [l for l in s.rstrip('\n').split('\n') if l.strip()]
    return '\n'.join('      | ' + l for l in lines[-n:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('files', nargs='*', help='Markdown files (default: README.md CONTRIBUTING.md docs/**/*.md)')
    ap.add_argument('--root', default='.', help='repository root; commands run there [.]')
    ap.add_argument('--hkref', default='build/hkref', help='the hkref binary the docs call build/hkref [build/hkref]')
    ap.add_argument('--timeout', type=float, default=60.0, help='seconds per command [60]')
    ap.add_argument('--list', action='store_true', help='list the commands and what would run; run nothing')
    ap.add_argument('-v', '--verbose', action='store_true', help='print each command\'s output')
    a = ap.parse_args()

    root = os.path.abspath(a.root)
    if not os.path.isdir(root):
        print('doctest: --root %s is not a directory' % a.root, file=sys.stderr)
        return 2
    if a.files:
        files = [os.path.abspath(f) for f in a.files]
    else:
        files = [os.path.join(root, f) for f in ('README.md', 'CONTRIBUTING.md')]
        files += sorted(glob.glob(os.path.join(root, 'docs', '**', '*.md'), recursive=True))
        files = [f for f in files if os.path.exists(f)]
    hkref = a.hkref
    if os.path.isabs(hkref):
        hkref_path = hkref
    else:
        # relative to the root the commands run in (make passes $(BUILD)/hkref)
        hkref_path = os.path.join(root, hkref)

    passed = failed = skipped = 0
    found = 0
    t0 = time.time()
    env = child_env()

    def execute(run, limit):
        """(exit status or None on timeout, output) of one shell command line."""
        p = subprocess.Popen(['/bin/sh', '-c', run], cwd=root, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            raw, _ = p.communicate(timeout=limit)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the command's whole process group, nothing else
            raw, _ = p.communicate()
            rc = None
        return rc, raw.decode('utf-8', 'replace')

    parsed = []
    for path in files:
        rel = os.path.relpath(path, root)
        parsed.append((path, rel) + (parse(path, rel) if os.path.exists(path) else (None, None)))

    # Dry runs of plain targets (no variables, no options, exit 0 expected) go
    # in one `make -n T1 T2 ...` first: one parse of the Makefile instead of
    # one per line.  If it fails, each line is dry-run on its own below, so
    # the report still names the failing line.
    make_seen = {}   # make command line -> where it passed
    batch = []
    for _, _, cmds, _ in parsed:
        for c in cmds or []:
            if c.error or c.skip is not None or c.exit or c.timeout:
                continue
            run, _ = plan(c, hkref)
            if run and run.startswith('make -n '):
                words = run.split()[2:]
                if all(re.match(r'^[A-Za-z0-9_./-]+$', w) and not w.startswith('-') for w in words):
                    batch.append(run)
    batch_targets = []
    for run in batch:
        for w in run.split()[2:]:
            if w not in batch_targets:
                batch_targets.append(w)
    if batch_targets and not a.list:
        t = time.time()
        rc, _ = execute('make -n ' + ' '.join(batch_targets), a.timeout * 2)
        if rc == 0:
            for run in batch:
                make_seen[run] = 'one dry run of all %d targets, %.1f s' % (len(batch_targets), time.time() - t)

    for path, rel, cmds, errors in parsed:
        if cmds is None:
            print('FAIL %s: no such file' % rel)
            failed += 1
            continue
        for line, msg in errors:
            print('FAIL %s:%d  %s' % (rel, line, msg))
            failed += 1
        for c in cmds:
            found += 1
            where = '%s:%d' % (c.path, c.line)
            if c.error:
                print('FAIL %s  %s  (%s)' % (where, c.text, c.error))
                failed += 1
                continue
            if c.skip is not None:
                print('SKIP %s  %s  — %s' % (where, c.text, c.skip))
                skipped += 1
                continue
            run, err = plan(c, hkref)
            if run is None:
                print('FAIL %s  %s  (%s)' % (where, c.text, err))
                failed += 1
                continue
            if a.list:
                print('RUN  %s  %s' % (where, run))
                continue
            if 'hkref' in run.split()[0] and not os.path.exists(hkref_path):
                print('FAIL %s  %s  (%s does not exist: run make first)' % (where, c.text, hkref))
                failed += 1
                continue
            shown = c.text if run == c.text else '%s  [ran: %s]' % (c.text, run)
            if c.exit == 0 and run in make_seen:
                # this make line already passed in this run: the result cannot differ
                print('PASS %s  %s  (%s)' % (where, shown, make_seen[run]))
                passed += 1
                continue
            t = time.time()
            limit = c.timeout or a.timeout
            rc, out = execute(run, limit)
            why = 'timed out after %g s' % limit if rc is None else \
                None if rc == c.exit else 'exit %d, expected %d' % (rc, c.exit)
            dt = time.time() - t
            if why is None:
                print('PASS %s  %s  (%.1f s)' % (where, shown, dt))
                passed += 1
                if run.startswith('make') and c.exit == 0:
                    make_seen[run] = 'same as ' + where
                if a.verbose and out.strip():
                    print(tail(out, 1000))
            else:
                print('FAIL %s  %s  (%s, %.1f s)' % (where, shown, why, dt))
                if out.strip():
                    print(tail(out))
                failed += 1
    if a.list:
        print('doctest: %d commands listed, %d skipped' % (found - skipped, skipped))
        return 0
    if found == 0:
        print('doctest: no commands found in %d files' % len(files))
        failed += 1
    print('doctest: %d files, %.1f s' % (len(files), time.time() - t0))
    print('doctest: %d passed, %d failed, %d skipped' % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
