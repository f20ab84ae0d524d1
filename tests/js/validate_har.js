// Validates HAR files with har-validator (the HAR 1.2 JSON Schema used by the HAR tooling on npm).
// Usage: node validate_har.js FILE...   Prints one JSON line per file: {"file", "valid", "errors"}.
"use strict";
const fs = require("fs");
const validator = require("har-validator");

async function main() {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const har = JSON.parse(fs.readFileSync(file, "utf8"));
    try {
      await validator.har(har);
      console.log(JSON.stringify({ file, valid: true, errors: [] }));
    } catch (error) {
      failed = true;
      const errors = (error.errors || [error]).map((e) => `${e.dataPath || e.instancePath || ""} ${e.message}`);
      console.log(JSON.stringify({ file, valid: false, errors }));
    }
  }
  process.exit(failed ? 1 : 0);
}

main();
