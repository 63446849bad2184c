"""`make bench`: synthesis time and memory of the full app next to an empty one-stack app.

Both are synthesized the same way, in the same run: a fresh Python process
builds the app with cdk.json's context and calls ``app.synth()`` into a
temporary directory. Rounds alternate between the two so that machine noise
hits both alike; medians are reported, with the ratio full/empty.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
KINDS = ("empty", "full", "full-no-nag")


def _peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _child(kind: str, env_name: str) -> None:
    """Runs inside the measured process: build, synthesize, report peak memory."""
    sys.path.insert(0, str(ROOT))
    import aws_cdk as cdk

    outdir = tempfile.mkdtemp(prefix=f"bench-{kind}-")
    if kind in ("full", "full-no-nag"):
        from app import NAG_KEY, build_app
        app = build_app({"env": env_name, NAG_KEY: kind == "full"}, outdir=outdir)
    else:
        from hydra_on_aws.config.settings import cdk_json_context
        app = cdk.App(context=cdk_json_context(), outdir=outdir, builtin_cloud_formation_validation=False)
        cdk.Stack(app, "Empty")
    app.synth()
    print(json.dumps({
        "python_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "node_kib": sum(_peak_kib(pid) for pid in _descendants(os.getpid())),
    }))


def _descendants(pid: int) -> list[int]:
    """jsii runs node, which runs the kernel in a second node process: count them all."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _measure(kind: str, env_name: str) -> dict:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "devtools.bench", "--child", kind, "--env", env_name],
                            cwd=ROOT, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{kind} synthesis failed:\n{result.stderr[-2000:]}")
    sample = json.loads(result.stdout.strip().splitlines()[-1])
    sample["wall_s"] = wall
    return sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev", help="environment to synthesize (default: dev)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.env)
        return 0

    _measure("empty", args.env)  # warm the file cache for both
    samples: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for _ in range(args.rounds):
        for kind in KINDS:
            samples[kind].append(_measure(kind, args.env))

    def median(kind: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[kind])

    rows = [("empty one-stack app", "empty"), (f"full app ({args.env})", "full"),
            ("full app, -c hydra:nag=false", "full-no-nag")]
    print(f"synthesis benchmark: {args.rounds} alternating rounds, medians, same process model for both")
    print(f"| {'app':<29} | wall (s) | python peak (MiB) | node peak (MiB) |")
    print(f"|{'-' * 31}|---------:|------------------:|----------------:|")
    for label, kind in rows:
        print(f"| {label:<29} | {median(kind, 'wall_s'):8.2f} | {median(kind, 'python_kib') / 1024:17.0f} "
              f"| {median(kind, 'node_kib') / 1024:15.0f} |")
    for label, kind in rows[1:]:
        ratio = median(kind, "wall_s") / median("empty", "wall_s")
        spread = max(s["wall_s"] for s in samples[kind]) - min(s["wall_s"] for s in samples[kind])
        print(f"ratio {label} / empty: {ratio:.2f}x (target <= {TARGET_RATIO}x), spread {spread:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
