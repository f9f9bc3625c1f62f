// SPDX-License-Identifier: GPL-3.0-or-later
// node validate.js FILE.glb: prints the Khronos glTF validator's report as one JSON line; exit 0 when read.
"use strict";
const fs = require("fs");
const path = require("path");
const validator = require("gltf-validator");

const file = process.argv[2];
const bytes = new Uint8Array(fs.readFileSync(file));
validator
  .validateBytes(bytes, {
    uri: path.basename(file),
    maxIssues: 100,
    externalResourceFunction: (uri) =>
      new Promise((resolve, reject) => {
        fs.readFile(path.join(path.dirname(file), decodeURIComponent(uri)), (err, data) =>
          err ? reject(err.toString()) : resolve(new Uint8Array(data)));
      }),
  })
  .then((report) => {
    process.stdout.write(JSON.stringify(report) + "\n");
  })
  .catch((error) => {
    process.stderr.write(`validation failed: ${error}\n`);
    process.exit(1);
  });
