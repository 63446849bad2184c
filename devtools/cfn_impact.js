// The CDK's own CloudFormation diff engine (@aws-cdk/cloudformation-diff, pinned in package.json) over
// pairs of templates: for each pair, what CloudFormation would do to every resource that differs.
//
// Reads JSON lines {"id": ..., "old": <template>, "new": <template>} on stdin and writes one JSON line per
// pair: {"id": ..., "resources": {<logical id>: {"type", "impact", "properties": {<name>: <impact>},
// "other": [<changed attribute>...], "different": bool}}}. Impacts are the engine's ResourceImpact values:
// WILL_UPDATE, WILL_REPLACE, MAY_REPLACE, WILL_CREATE, WILL_DESTROY, WILL_ORPHAN, NO_CHANGE.
"use strict";
const path = require("path");
const readline = require("readline");
const { fullDiff } = require(path.join(__dirname, "..", "node_modules", "@aws-cdk", "cloudformation-diff"));

const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on("line", (line) => {
  if (!line.trim()) return;
  const { id, old: before, new: after } = JSON.parse(line);
  const resources = {};
  try {
    fullDiff(before, after).resources.forEachDifference((logicalId, change) => {
      const properties = {};
      for (const [name, update] of Object.entries(change.propertyUpdates)) properties[name] = update.changeImpact;
      resources[logicalId] = {
        type: change.newResourceType || change.oldResourceType,
        impact: change.changeImpact,
        properties,
        other: Object.keys(change.otherChanges),
        different: change.isDifferent,
      };
    });
    process.stdout.write(JSON.stringify({ id, resources }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ id, error: String(error && error.stack || error) }) + "\n");
  }
});
