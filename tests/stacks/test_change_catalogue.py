"""The change catalogue, rehearsed: what each setting change and each operator change would do.

Every setting moved to another valid value, and the changes operators make, synthesized before and
after in dev and prod and judged by the CloudFormation diff engine (devtools.change_impact). A
routine change must deploy as an update; a change marked otherwise must still be one the README
warns about. The README's table is this catalogue's output.
"""

from __future__ import annotations

import pytest

from devtools.catalogue import CATALOGUE, ENVIRONMENTS, Rehearsal, table
from devtools.docs import README, readme_section
from hydra_on_aws.config.settings import settings_fields

pytestmark = pytest.mark.catalogue


@pytest.fixture(scope="module")
def rehearsed():
    rehearsal = Rehearsal()
    yield rehearsal.run()
    rehearsal.engine.close()


def test_every_setting_is_in_the_catalogue():
    covered = {s for change in CATALOGUE for s in change.covers} - {"clients"}
    assert {f.name for f in settings_fields()} - covered == set()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_routine_change_deploys_as_an_update(rehearsed, env):
    failing = {change.name: outcomes[env].impact.problems for change, outcomes in rehearsed
               if change.routine and outcomes[env].impact is not None and outcomes[env].impact.problems}
    assert failing == {}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_changes_the_readme_warns_about_still_need_the_warning(rehearsed, env):
    for change, outcomes in rehearsed:
        if not change.routine and outcomes[env].impact is not None:
            assert outcomes[env].impact.problems, f"{change.name} deploys as an update now: update the catalogue"


def test_a_changed_stage_is_caught_at_its_export(rehearsed):
    [outcome] = [o for change, outcomes in rehearsed if change.name == "api_stage_name" for o in [outcomes["dev"]]]
    assert any("cannot be updated as it is in use" in p for p in outcome.impact.problems)


def test_the_readme_table_is_the_catalogues(rehearsed):
    assert readme_section(README.read_text(), "routine-changes") == table(rehearsed), \
        "run `make docs` and commit README.md"
