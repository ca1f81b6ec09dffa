#!/usr/bin/env python3
"""Runs every shell command shown in a documentation page, so the docs cannot rot.

A command is a line starting with "$ " inside a fenced code block (a trailing "\\"
continues it; a here-document "<<'TAG'" takes the lines up to TAG). The lines after
it, up to the next command or the end of the block, are its shown output.

The commands of one page run in order, each in bash, in one scratch folder that
looks like the repository root after a build: examples/ and docs/ link to the
sources, build/ to the build tree, and build/bin is on PATH. Checks:
  - the exit status: 0, or 1 when the shown output holds "error:" (actc's errors);
  - with <!-- docs-test: output --> before the block, every shown output line must
    appear in what the command printed (trailing spaces ignored).
`actc bench` runs with --size 65536 --reps 1 --peers loop appended: the page's timings
are not what is checked here, only that the command works as written (Halide's JIT
compile alone takes seconds per activation; tests/lit/Emit/bench*.test cover peers).

Usage: docs_commands.py SOURCE_DIR BUILD_DIR PAGE.md [PAGE.md ...]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def commands(text):
    """(line number, command, shown output lines, check output) for a page."""
    out = []
    lines = text.split("\n")
    i, in_block, check, check_next = 0, False, False, False
    while i < len(lines):
        line = lines[i]
        if line.startswith("<!-- docs-test: output -->"):
            check_next = True
        if line.startswith("```"):
            in_block = not in_block
            check, check_next = (check_next, False) if in_block else (False, False)
            i += 1
            continue
        if in_block and line.startswith("$ "):
            start, cmd = i + 1, line[2:]
            while cmd.endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd += "\n" + lines[i]
            tag = re.search(r"<<-?'?(\w+)'?", cmd)
            if tag:
                while i + 1 < len(lines):
                    i += 1
                    cmd += "\n" + lines[i]
                    if lines[i] == tag.group(1):
                        break
            shown = []
            while i + 1 < len(lines) and not lines[i + 1].startswith(("$ ", "```")):
                i += 1
                shown.append(lines[i])
            out.append((start, cmd, shown, check))
        i += 1
    return out


def main():
    src, build, pages = sys.argv[1], sys.argv[2], sys.argv[3:]
    work = tempfile.mkdtemp(prefix="act-docs-")
    for name, target in (("examples", os.path.join(src, "examples")),
                         ("docs", os.path.join(src, "docs")), ("build", build)):
        os.symlink(target, os.path.join(work, name))
    env = dict(os.environ)
    env["PATH"] = os.path.join(build, "bin") + os.pathsep + env.get("PATH", "")
    failures = ran = 0
    for page in pages:
        with open(page) as f:
            found = commands(f.read())
        for line, cmd, shown, check in found:
            run = cmd
            if re.match(r"actc bench\b", cmd):
                run = cmd + " --size 65536 --reps 1 --peers loop"
            expect = 1 if any("error:" in s for s in shown) else 0
            p = subprocess.run(["bash", "-c", run], cwd=work, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=300)
            ran += 1
            where = "%s:%d: $ %s" % (os.path.basename(page), line, cmd.split("\n")[0])
            problems = []
            if p.returncode != expect:
                problems.append("exit status %d, expected %d" % (p.returncode, expect))
            if check:
                got = [l.rstrip() for l in p.stdout.split("\n")]
                for s in shown:
                    if s.strip() and s.rstrip() not in got:
                        problems.append("missing output line: " + s.rstrip())
            if problems:
                failures += 1
                print("FAIL " + where)
                for msg in problems:
                    print("  " + msg)
                print("  output:\n    " + "\n    ".join(p.stdout.rstrip().split("\n")[-30:]))
            else:
                print("ok   " + where)
    if ran == 0:
        print("no commands in " + " ".join(pages))
    shutil.rmtree(work, ignore_errors=True)
    print("%d commands, %d failed" % (ran, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
