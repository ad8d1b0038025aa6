// Validates Kubernetes and Istio manifests (JSON files, each one object or a List of them)
// against the official schemas, with the pinned npm packages kubernetes-models and
// @kubernetes-models/istio (package-lock.json; `npm ci` installs them, scripts/setup.sh
// --tests does it). The schemas check types, required fields and quantities; SoMLier checks
// names and label values itself (src/somlier/kubernetes/names.h).
//
//   node validate.mjs FILE.json...
//
// Prints "ok KIND NAME" or "invalid KIND NAME: errors" per manifest; exits 1 if any is
// invalid or unknown, 2 on bad usage.
import { readFileSync } from "node:fs";

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const path = group.endsWith("istio.io")
    ? `@kubernetes-models/istio/${group}/${version}`
    : group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
  const module = await import(path);
  if (!module[kind]) throw new Error(`no model for ${apiVersion} ${kind}`);
  return module[kind];
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE.json...");
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  const document = JSON.parse(readFileSync(file, "utf8"));
  const items = document.kind === "List" ? document.items : [document];
  for (const item of items) {
    const label = `${item.kind} ${item.metadata?.name ?? "(no name)"} (${file})`;
    try {
      const Model = await modelFor(item.apiVersion ?? "", item.kind ?? "");
      new Model(item).validate();
      console.log(`ok ${label}`);
    } catch (error) {
      failed += 1;
      console.log(`invalid ${label}: ${error.message}`);
    }
  }
}
process.exit(failed ? 1 : 0);
