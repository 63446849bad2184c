"""The generated parts of README.md: the configuration reference and a sample exposure report.

`make docs` rewrites every section between the README's markers; tests fail
when the README and the code disagree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable

from hydra_on_aws.config.settings import ENVIRONMENTS_KEY, cdk_json_context, load_config, settings_fields

README = Path(__file__).resolve().parent.parent / "README.md"


def _show(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "`" + json.dumps(value) + "`"


def config_reference() -> str:
    context = cdk_json_context()
    envs = sorted(context[ENVIRONMENTS_KEY])
    configs = {env: load_config({**context, "env": env}) for env in envs}
    lines = ["| key | " + " | ".join(envs) + " | meaning |", "|---|" + "---|" * len(envs) + "---|"]
    for f in settings_fields():
        values = " | ".join(_show(getattr(configs[env], f.name)) for env in envs)
        required = " (required)" if f.required else ""
        lines.append(f"| `{f.name}`{required} | {values} | {f.doc} |")
    return "\n".join(lines)


def exposure_dev() -> str:
    from app import build_app
    from hydra_on_aws.boundary.exposure import environment_network, render
    templates = {s.stack_name: s.template for s in build_app({"env": "dev"}).synth().stacks}
    return render("dev", environment_network("dev", templates))


def idle_cost() -> str:
    from app import build_app
    from devtools.costs import idle_table
    return idle_table({env: {s.stack_name: s.template for s in build_app({"env": env}).synth().stacks}
                       for env in ("dev", "prod")})


def routine_changes() -> str:
    from devtools.catalogue import Rehearsal, table
    return table(Rehearsal().run())


SECTIONS: dict[str, Callable[[], str]] = {"config-reference": config_reference, "exposure:dev": exposure_dev,
                                          "idle-cost": idle_cost, "routine-changes": routine_changes}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"<!-- {name}:start -->") + r"\n(.*?)" + re.escape(f"<!-- {name}:end -->"), re.S)


def readme_section(text: str, name: str) -> str:
    match = _pattern(name).search(text)
    return match.group(1).rstrip("\n") if match else ""


SCHEMA = README.parent / "cdk.schema.json"


def schema_text() -> str:
    from hydra_on_aws.config.settings import cdk_json_schema
    return json.dumps(cdk_json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    SCHEMA.write_text(schema_text())
    text = README.read_text()
    for name, render in SECTIONS.items():
        if not _pattern(name).search(text):
            print(f"README.md lacks the <!-- {name}:start --> ... <!-- {name}:end --> markers", file=sys.stderr)
            return 1
        body = render()
        text = _pattern(name).sub(lambda _: f"<!-- {name}:start -->\n{body}\n<!-- {name}:end -->", text, count=1)
    README.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
