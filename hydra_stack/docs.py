"""The configuration reference table in README.md, rendered from the settings themselves.

`make docs` rewrites the table between the README's markers; a test fails
when the README and the code disagree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from hydra_stack.config import ENVIRONMENTS_KEY, load_config, settings_fields

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def _show(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "`" + json.dumps(value) + "`"


def render() -> str:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    envs = sorted(context[ENVIRONMENTS_KEY])
    configs = {env: load_config({**context, "env": env}) for env in envs}
    lines = ["| key | " + " | ".join(envs) + " | meaning |", "|---|" + "---|" * len(envs) + "---|"]
    for f in settings_fields():
        values = " | ".join(_show(getattr(configs[env], f.name)) for env in envs)
        required = " (required)" if f.metadata.get("required") else ""
        lines.append(f"| `{f.name}`{required} | {values} | {f.metadata['doc']} |")
    return "\n".join(lines)


_SECTION = re.compile(re.escape(START) + r"\n(.*?)" + re.escape(END), re.S)


def readme_section(text: str) -> str:
    match = _SECTION.search(text)
    return match.group(1).rstrip("\n") if match else ""


def main() -> int:
    text = README.read_text()
    if not _SECTION.search(text):
        print(f"README.md lacks the {START} ... {END} markers", file=sys.stderr)
        return 1
    README.write_text(_SECTION.sub(lambda _: f"{START}\n{render()}\n{END}", text, count=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
